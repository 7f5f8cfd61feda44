"""What a study declares about constraints: on outcomes and on parameters (pydantic models)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_OUTCOME_CONSTRAINTS = 8
MAX_PARAMETER_CONSTRAINTS = 16


class OutcomeConstraint(BaseModel):
    """``metric op bound``: a feasible trial's ``metric`` is at most (``<=``) or at least (``>=``) ``bound``.

    ``metric`` may be an objective or another measured quantity; a metric that is not an
    objective is tracked: every observation must report it.
    """

    model_config = ConfigDict(extra="forbid")

    metric: Annotated[str, Field(min_length=1, max_length=128)]
    op: Literal["<=", ">="]
    bound: float

    @field_validator("bound")
    @classmethod
    def _finite(cls, value: float) -> float:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be finite")
        return value


class ParameterConstraint(BaseModel):
    """``sum coefficients[p] * p op bound`` over float and int parameters (natural scale, no log)."""

    model_config = ConfigDict(extra="forbid")

    coefficients: Annotated[dict[str, float], Field(min_length=1, max_length=100)]
    op: Literal["<=", ">="]
    bound: float

    @field_validator("coefficients")
    @classmethod
    def _finite_coefficients(cls, value: dict[str, float]) -> dict[str, float]:
        for name, c in value.items():
            if c != c or c in (float("inf"), float("-inf")):
                raise ValueError(f"coefficient of '{name}' must be finite")
        if all(c == 0 for c in value.values()):
            raise ValueError("at least one coefficient must be non-zero")
        return value
