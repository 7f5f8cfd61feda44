"""``type: "int"``: an integer in ``[low, high]`` (both included), optionally in log space or every ``step``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from service.space.range_param import RangeParam


class IntParam(RangeParam):
    """An integer parameter in ``[low, high]``; ``log=True`` searches in log space; ``step`` keeps
    ``low, low + step, ..., high``. Other parameters may be conditioned on it."""

    integral: ClassVar[bool] = True
    can_be_parent: ClassVar[bool] = True

    type: Literal["int"] = "int"
    low: int
    high: int
    log: bool = False
    step: int | None = Field(default=None, ge=1, description="grid spacing from low; high - low must be a multiple")
