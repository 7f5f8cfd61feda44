"""Pydantic models of the server's responses (openapi/openapi.json), as the SDK returns them.

These are the client's own copies of the wire format, deliberately separate from the server's schemas
(the SDK must not import the server). They are tolerant: unknown fields are kept (``extra="allow"``)
and fields a newer contract added are optional, so an old client keeps working against a newer server.
Parameters of the search space stay plain dicts (``{"name", "type", "low", "high", ...}``) for the same
reason: a new parameter type must not break parsing.
"""

from __future__ import annotations

import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Trial states of API v1 (a newer server may send others; ``Trial.state`` is a plain str).
TRIAL_STATES = ("pending", "completed", "failed", "abandoned", "expired", "early_stopped", "queued")


class _Tolerant(BaseModel):
    """Base: keeps unknown fields, allows field names such as ``model_*``."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())


class Objective(_Tolerant):
    """One objective of a study: its ``name`` and ``goal`` (``"minimize"`` or ``"maximize"``)."""

    name: str
    goal: str = "minimize"


class Study(_Tolerant):
    """A study as returned by ``GET /v1/studies/{id}``.

    ``parameters`` is the list of parameter dicts (length = search-space dimension), ``objectives`` the
    list of objectives (length = number of objectives), ``trial_counts`` maps a trial state to a count.
    """

    id: str
    name: str
    parameters: list[dict[str, Any]] = Field(default_factory=list)
    objectives: list[Objective] = Field(default_factory=list)
    surrogate: str | None = None
    surrogate_options: dict[str, Any] = Field(default_factory=dict)
    initial_design_size: int | None = None
    seed: int | None = None
    lease_seconds: int | None = None
    created_at: datetime.datetime | None = None
    trial_counts: dict[str, int] = Field(default_factory=dict)

    @property
    def objective_names(self) -> list[str]:
        """Names of the objectives, in the study's order."""
        return [objective.name for objective in self.objectives]

    @property
    def parameter_names(self) -> list[str]:
        """Names of the parameters, in the study's order."""
        return [str(parameter.get("name")) for parameter in self.parameters]


class Trial(_Tolerant):
    """One evaluation of the objective(s) at ``params`` (a dict, one entry per parameter).

    ``values`` / ``noise_sd`` map objective name -> float once the trial is completed, else ``None``.
    """

    id: str
    study_id: str | None = None
    number: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    state: str = "pending"
    values: dict[str, float] | None = None
    noise_sd: dict[str, float] | None = None
    client_id: str | None = None
    source: str | None = None
    policy: str | None = None
    created_at: datetime.datetime | None = None
    completed_at: datetime.datetime | None = None
    lease_expires_at: datetime.datetime | None = None

    @property
    def value(self) -> float | None:
        """The single objective value of a completed single-objective trial; ``None`` when not completed.

        Raises:
            ValueError: the trial has more than one objective value (use ``values``).
        """
        if not self.values:
            return None
        if len(self.values) != 1:
            raise ValueError(f"trial {self.id} has {len(self.values)} objective values; use .values")
        return next(iter(self.values.values()))


class StudyPage(_Tolerant):
    """One page of ``GET /v1/studies``: ``items`` (at most ``limit`` studies) out of ``total``."""

    items: list[Study] = Field(default_factory=list)
    total: int | None = None
    limit: int | None = None
    offset: int = 0


class TrialPage(_Tolerant):
    """One page of ``GET /v1/studies/{id}/trials``: ``items`` (at most ``limit`` trials) out of ``total``."""

    items: list[Trial] = Field(default_factory=list)
    total: int | None = None
    limit: int | None = None
    offset: int = 0


class Prediction(_Tolerant):
    """Surrogate posterior of ``objective`` at N points: ``mean`` and ``sd`` are lists of length N."""

    objective: str | None = None
    mean: list[float] = Field(default_factory=list)
    sd: list[float] = Field(default_factory=list)
