"""``surrogate_options`` of ``surrogate: "auto"`` (pydantic only: no model code is imported)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.optimizers.lla_options import LLAOptions


class AutoOptions(BaseModel):
    """Options of the automatic surrogate choice.

    Attributes:
        candidates: the surrogates to choose from (2 or more of ``gp``, ``lla``).
        criterion: ``"loo"`` (leave-one-out predictive log likelihood; default) or ``"evidence"``
            (log marginal likelihood). On stationary GP samples both pick the GP (tested). On a
            function flat for x0 < 0.5 and sin(12 x0) cos(10 x1) above, with 40 points, ``evidence``
            picked the GP on every seed tried and ``loo`` the LLA on 1 of 4 seeds (60 points: 0 of
            4); on Gramacy-Lee (flat over 3/4 of the box) ``loo`` picked the LLA on 2 of 2 seeds and
            ``evidence`` on none. ``loo`` is the default for that reason; neither is reliable yet.
        lla: options of the LLA candidate (as for ``surrogate: "lla"``).
    """

    model_config = ConfigDict(extra="forbid")

    candidates: Annotated[list[Literal["gp", "lla"]], Field(min_length=2, max_length=2)] = ["gp", "lla"]
    criterion: Literal["evidence", "loo"] = "loo"
    lla: dict = Field(default_factory=dict)

    @field_validator("candidates")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("candidates must be distinct")
        return value

    @field_validator("lla")
    @classmethod
    def _lla_options(cls, value: dict) -> dict:
        LLAOptions.model_validate(value)
        return value
