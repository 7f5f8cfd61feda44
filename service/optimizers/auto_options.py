"""``surrogate_options`` of ``surrogate: "auto"`` (pydantic only: no model code is imported)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from service.optimizers.lla_options import LLAOptions
from service.optimizers.warping_options import OutputWarpingOptions


class AutoOptions(OutputWarpingOptions):
    """Options of the automatic surrogate choice.

    Attributes:
        candidates: the surrogates to choose from (2 or more of ``gp``, ``lla``).
        criterion: ``"loo"`` (leave-one-out predictive log likelihood; default) or ``"evidence"``
            (log marginal likelihood). On stationary GP samples both pick the GP (tested). On a
            function flat for x0 < 0.5 and 2 sin(25 x0) cos(20 x1) above, ``loo`` picked the LLA on
            5 of 6 seeds at 100 points (tested); with 40-60 points the choice was close to a coin
            toss; ``evidence`` picked the GP on all 6 seeds at 100 points. ``loo`` is the default.
        lla: options of the LLA candidate (as for ``surrogate: "lla"``; its ``output_warping``
            is not used: the policy warps once, by this model's ``output_warping``;
            ``variance_calibration`` defaults to ``"off"`` here, see ``auto.AUTO_LLA_DEFAULTS``).
        output_warping: see :class:`OutputWarpingOptions`.
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
