"""What a client declares when it creates a study (validated pydantic models)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from service.optimizers import describe_surrogates, surrogate_names, validate_surrogate_options
from service.space.linear_constraints import ConstraintError, LinearConstraints, parse_constraints
from service.space.params import MAX_PARAMETERS, MIN_PARAMETERS, Parameter, validate_parameter_list
from service.space.search_space import SearchSpace
from service.studies.constraint_spec import (
    MAX_OUTCOME_CONSTRAINTS,
    MAX_PARAMETER_CONSTRAINTS,
    OutcomeConstraint,
    ParameterConstraint,
)
from service.stopping.settings import EarlyStoppingSettings

MAX_LEASE_SECONDS = 30 * 24 * 3600
MAX_OBJECTIVES = 4


def _surrogate_schema(schema: dict[str, Any]) -> None:
    """The registered surrogate names as the JSON-schema enum of ``surrogate``."""
    schema["enum"] = surrogate_names()
    schema["description"] = "; ".join(f"{k}: {v}" for k, v in describe_surrogates().items())


class Objective(BaseModel):
    """One objective to optimise."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=128)]
    goal: Literal["minimize", "maximize"] = "minimize"
    threshold: float | None = Field(
        default=None,
        description="reference point of this objective for the hypervolume (several objectives); "
        "inferred from the data when absent",
    )


class StudySpec(BaseModel):
    """A study's definition as sent to ``POST /v1/studies``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=256)]
    # The counts are enforced by the validators below (with their own messages) and stated in the schema.
    parameters: Annotated[
        list[Parameter], Field(json_schema_extra={"minItems": MIN_PARAMETERS, "maxItems": MAX_PARAMETERS})
    ]
    objectives: Annotated[list[Objective], Field(json_schema_extra={"minItems": 1, "maxItems": MAX_OBJECTIVES})]
    # Any registered surrogate (service.optimizers.registry); the schema lists them when generated.
    surrogate: Annotated[str, Field(json_schema_extra=_surrogate_schema)] = "gp"
    surrogate_options: dict[str, Any] = Field(default_factory=dict)
    initial_design_size: Annotated[int, Field(ge=1, le=10_000)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    lease_seconds: Annotated[int, Field(ge=1, le=MAX_LEASE_SECONDS)] | None = None
    outcome_constraints: Annotated[
        list[OutcomeConstraint], Field(json_schema_extra={"maxItems": MAX_OUTCOME_CONSTRAINTS})
    ] = Field(default_factory=list)
    parameter_constraints: Annotated[
        list[ParameterConstraint], Field(json_schema_extra={"maxItems": MAX_PARAMETER_CONSTRAINTS})
    ] = Field(default_factory=list)
    # How trials may be stopped early from their reported intermediate values (None: never).
    early_stopping: EarlyStoppingSettings | None = None

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value: list) -> list:
        return validate_parameter_list(value)

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, value: list[Objective]) -> list[Objective]:
        if len(value) == 0:
            raise ValueError("at least one objective is required")
        if len(value) > MAX_OBJECTIVES:
            raise ValueError(f"at most {MAX_OBJECTIVES} objectives are supported, got {len(value)}")
        names = [o.name for o in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate objective name(s) {duplicates}")
        return value

    @field_validator("outcome_constraints")
    @classmethod
    def _outcome_constraints(cls, value: list[OutcomeConstraint]) -> list[OutcomeConstraint]:
        if len(value) > MAX_OUTCOME_CONSTRAINTS:
            raise ValueError(f"at most {MAX_OUTCOME_CONSTRAINTS} outcome constraints, got {len(value)}")
        return value

    @field_validator("parameter_constraints")
    @classmethod
    def _parameter_constraints(cls, value: list[ParameterConstraint], info: ValidationInfo) -> list[ParameterConstraint]:
        """Known float/int parameters without log, jointly satisfiable on the box (a linear program)."""
        if len(value) > MAX_PARAMETER_CONSTRAINTS:
            raise ValueError(f"at most {MAX_PARAMETER_CONSTRAINTS} parameter constraints, got {len(value)}")
        parameters = info.data.get("parameters")
        if not value or not parameters:
            return value
        try:
            LinearConstraints(SearchSpace(parameters), parse_constraints([c.model_dump() for c in value]))
        except ConstraintError as error:
            raise ValueError(str(error)) from error
        return value

    def tracked_metrics(self) -> list[str]:
        """Constrained metrics that are not objectives (each observation must report them)."""
        objectives = {o.name for o in self.objectives}
        seen: list[str] = []
        for c in self.outcome_constraints:
            if c.metric not in objectives and c.metric not in seen:
                seen.append(c.metric)
        return seen

    @field_validator("surrogate")
    @classmethod
    def _surrogate(cls, value: str) -> str:
        if value not in surrogate_names():
            raise ValueError(f"unknown surrogate '{value}'; registered: {surrogate_names()}")
        return value

    @field_validator("surrogate_options")
    @classmethod
    def _surrogate_options(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """Validated by the surrogate's options model (errors located at surrogate_options.<field>)."""
        surrogate = info.data.get("surrogate")
        if surrogate is None:  # the surrogate itself was invalid: reported there
            return value
        return validate_surrogate_options(surrogate, value)

    def default_initial_design_size(self) -> int:
        """max(5, 2 d), the size used when the client gives none."""
        return max(5, 2 * len(self.parameters))
