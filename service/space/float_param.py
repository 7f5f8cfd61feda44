"""``type: "float"``: a real number in ``[low, high]``, optionally in log space or on a ``step`` grid."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from service.space.range_param import RangeParam


class FloatParam(RangeParam):
    """A real-valued parameter in ``[low, high]``; ``log=True`` searches ``log(x)`` uniformly;
    ``step`` restricts it to ``low, low + step, ..., high``."""

    type: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False
    step: float | None = Field(default=None, description="grid spacing from low; high - low must be a multiple")
