"""Trial request/response bodies: suggest, observe, report, fail, predict."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.studies.views import Trial

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
TrialState = Literal["pending", "completed", "failed", "abandoned", "expired", "early_stopped", "queued"]


class IntermediateValue(BaseModel):
    """The objective(s) measured at one step of a running trial."""

    step: int
    values: dict[str, float]


class TrialOut(BaseModel):
    """A trial as returned by the API."""

    id: str
    study_id: str
    number: int
    params: dict[str, Any]
    state: TrialState
    values: dict[str, float] | None
    noise_sd: dict[str, float] | None
    client_id: str | None
    source: Literal["suggested", "external", "enqueued"]
    policy: str | None = Field(
        default=None, description="what chose the point: 'sobol', 'gp', 'lla', or '<model>->sobol-fallback'"
    )
    created_at: datetime
    completed_at: datetime | None
    lease_expires_at: datetime | None
    feasible: bool | None = Field(
        default=None,
        description="whether the completed trial meets the study's outcome and parameter constraints "
        "(null while it has no values, or where not evaluated)",
    )
    intermediate_values: list[IntermediateValue] = Field(
        default_factory=list, description="reported intermediate values, by increasing step"
    )

    @classmethod
    def of(cls, trial: Trial) -> TrialOut:
        return cls.model_validate(trial.__dict__, from_attributes=False)


class SuggestIn(BaseModel):
    """Ask for ``count`` new points, chosen jointly."""

    model_config = ConfigDict(extra="forbid")

    count: Annotated[int, Field(ge=1, le=64)] = 1
    client_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    fixed: dict[str, Any] | None = Field(
        default=None,
        description="parameters held at these values in every point of this call; the rest is optimised",
    )


class EnqueueIn(BaseModel):
    """A point to evaluate: the next suggest hands it out before asking the model."""

    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(description="exactly the active parameters (fixed ones may be omitted)")


class SuggestOut(BaseModel):
    """The new pending trials."""

    trials: list[TrialOut]


class ObserveIn(BaseModel):
    """What was measured: for a suggested trial (``trial_id``) or at outside ``params``."""

    # The schema states the rule of ``_one_target`` too: exactly one of the two, not null.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"required": ["trial_id"], "properties": {"trial_id": {"type": "string"}}},
        {"required": ["params"], "properties": {"params": {"type": "object"}}},
    ]})

    trial_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    params: dict[str, Any] | None = None
    values: dict[str, FiniteFloat]
    noise_sd: dict[str, Annotated[float, Field(allow_inf_nan=False, ge=0)]] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ObserveIn:
        if (self.trial_id is None) == (self.params is None):
            raise ValueError("give exactly one of trial_id (a suggested trial) or params (an outside observation)")
        return self


class FailIn(BaseModel):
    """Why a trial failed."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=4096)] | None = None


class PredictIn(BaseModel):
    """Points to predict at."""

    model_config = ConfigDict(extra="forbid")

    points: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=1000)]


class PredictOut(BaseModel):
    """Surrogate mean and standard deviation per point, in the objective's units."""

    objective: str
    surrogate: str = Field(
        description="the surrogate that made the prediction (a 'random' study is predicted by the GP fitted on its data)"
    )
    mean: list[float]
    sd: list[float]
    outcomes: dict[str, dict[str, list[float]]] = Field(
        default_factory=dict,
        description="mean and sd of every modelled outcome (objectives and constrained metrics), by name",
    )


class ParetoOut(BaseModel):
    """The feasible, non-dominated completed trials of a study."""

    trials: list[TrialOut]
    hypervolume: float | None = Field(description="dominated hypervolume of the front (several objectives)")
    reference_point: list[float] | None = Field(description="the point the hypervolume is measured from")
    reference_point_inferred: bool = Field(description="true when no objective threshold was given")


class ReportIn(BaseModel):
    """An intermediate value of a pending trial: the objective(s) at ``step`` (strictly increasing)."""

    model_config = ConfigDict(extra="forbid")

    step: Annotated[int, Field(ge=0)]
    values: dict[str, FiniteFloat]


class ReportOut(BaseModel):
    """The stopping decision on a report; when ``stop`` the trial is already ``early_stopped``."""

    stop: bool
    probability_of_improvement: float | None = Field(
        default=None, description="model policy: probability that the trial's final value beats the best completed one"
    )
    reason: str
    trial: TrialOut
