"""Job request/response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.jobs.spec import JobSpec
from service.jobs.views import Artifact, Job, JobResult

JobCreate = JobSpec
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobOut(BaseModel):
    """A job: its request, state, progress and timestamps (``started_at``: start of the current attempt)."""

    model_config = ConfigDict(protected_namespaces=())

    id: str
    kind: str
    state: JobState
    dataset: str
    target: str | None
    task: str
    model: dict[str, Any] | None
    config: dict[str, Any]
    device: str
    queue: str
    attempt: int
    max_attempts: int
    cancel_requested: bool
    progress: float
    message: str | None
    epoch: int | None
    log_marglik: float | None
    error: str | None
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls.model_validate(job.__dict__)


class ArtifactOut(BaseModel):
    """A downloadable file of a succeeded job (``GET /v1/jobs/{id}/artifacts/{name}``)."""

    name: str
    media_type: str
    size_bytes: int

    @classmethod
    def of(cls, artifact: Artifact) -> ArtifactOut:
        return cls(name=artifact.name, media_type=artifact.media_type, size_bytes=artifact.size_bytes)


class JobResultOut(BaseModel):
    """The result of a succeeded job; ``attempt`` is the attempt that produced it."""

    job_id: str
    kind: str
    attempt: int
    result: dict[str, Any]
    artifacts: list[ArtifactOut]

    @classmethod
    def of(cls, result: JobResult) -> JobResultOut:
        return cls(job_id=result.job_id, kind=result.kind, attempt=result.attempt, result=result.result,
                   artifacts=[ArtifactOut.of(a) for a in result.artifacts])


class JobPredictIn(BaseModel):
    """Rows to predict at with a succeeded ``laplace`` or ``marglik`` job's posterior."""

    model_config = ConfigDict(extra="forbid")

    rows: list[list[float]] = Field(min_length=1, max_length=1000, description="Raw feature values, one list per "
                                    "row, in the order of the job's feature_names (weights.json).")
    observation_noise: bool = Field(default=True, description="Regression: include the noise in the std.")
    link: Literal["probit", "mc"] = Field(default="probit", description="Classification predictive link.")


class JobPredictionOut(BaseModel):
    """The Laplace predictive: ``mean`` and ``std`` (regression, target units) or ``probabilities`` per class."""

    feature_names: list[str]
    mean: list[float] | None = None
    std: list[float] | None = None
    classes: list[str] | None = None
    probabilities: list[list[float]] | None = None
