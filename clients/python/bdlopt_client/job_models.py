"""Pydantic models of the job and dataset responses, as the SDK returns them.

The client's own copies of the wire format (the SDK must not import the server): tolerant of
unknown fields, with optional fields where a newer server may add or omit information.
"""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Job states; the last three are final.
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED_JOB_STATES = ("succeeded", "failed", "cancelled")


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class Dataset(_Tolerant):
    """An uploaded or built-in dataset: ``columns`` has ``n_features + 1`` names (the last is the default target)."""

    id: str
    name: str | None = None
    builtin: bool = False
    format: str | None = None
    n_rows: int
    n_features: int
    columns: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    size_bytes: int | None = None
    created_at: datetime.datetime | None = None


class Job(_Tolerant):
    """A background job: ``progress`` in [0, 1], the current ``epoch`` and ``log_marglik`` while it runs."""

    id: str
    kind: str
    state: str
    dataset: str | None = None
    target: str | None = None
    task: str | None = None
    model: dict[str, Any] | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    device: str | None = None
    attempt: int = 0
    max_attempts: int | None = None
    cancel_requested: bool = False
    progress: float = 0.0
    message: str | None = None
    epoch: int | None = None
    log_marglik: float | None = None
    error: str | None = None
    created_at: datetime.datetime | None = None
    started_at: datetime.datetime | None = None
    heartbeat_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None

    @property
    def finished(self) -> bool:
        """Whether the job reached a final state (succeeded, failed or cancelled)."""
        return self.state in FINISHED_JOB_STATES


class JobPage(_Tolerant):
    """One page of ``GET /v1/jobs``."""

    items: list[Job] = Field(default_factory=list)
    total: int | None = None
    limit: int | None = None
    offset: int = 0


class Artifact(_Tolerant):
    """A downloadable file of a succeeded job."""

    name: str
    media_type: str | None = None
    size_bytes: int | None = None


class JobResult(_Tolerant):
    """The result of a succeeded job (kind-specific ``result`` dict) and its artifacts."""

    job_id: str
    kind: str | None = None
    attempt: int | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    artifacts: list[Artifact] = Field(default_factory=list)

    def to_markdown(self) -> str:
        """A markdown summary for the kind (``laplace``/``marglik``: whether the Laplace predictive beat the
        MAP network, metrics side by side; ``nam``, ``prune`` and any other kind: see ``result_markdown``)."""
        from .result_markdown import result_markdown

        return result_markdown(self.kind, self.result, self.job_id)


class JobPrediction(_Tolerant):
    """A job posterior's predictive: ``mean``/``std`` (regression, target units) or ``probabilities`` (per class)."""

    feature_names: list[str] = Field(default_factory=list)
    mean: list[float] | None = None
    std: list[float] | None = None
    classes: list[str] | None = None
    probabilities: list[list[float]] | None = None
