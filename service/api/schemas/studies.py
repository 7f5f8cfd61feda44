"""Study request/response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from service.space.params import Parameter
from service.studies.constraint_spec import OutcomeConstraint, ParameterConstraint
from service.stopping.settings import EarlyStoppingSettings
from service.studies.spec import Objective, StudySpec
from service.studies.views import Study

StudyCreate = StudySpec


class StudyOut(BaseModel):
    """A study as returned by the API."""

    id: str
    name: str
    parameters: list[Parameter]
    objectives: list[Objective]
    surrogate: str
    surrogate_options: dict[str, Any]
    initial_design_size: int
    seed: int
    lease_seconds: int
    created_at: datetime
    trial_counts: dict[str, int]
    outcome_constraints: list[OutcomeConstraint] = []
    parameter_constraints: list[ParameterConstraint] = []
    hypervolume: float | None = Field(
        default=None, description="hypervolume of the observed Pareto front (several objectives, single-study view)"
    )
    early_stopping: EarlyStoppingSettings | None = None

    @classmethod
    def of(cls, study: Study) -> StudyOut:
        return cls.model_validate(study.__dict__)
