"""``type: "fixed"``: one ``value`` kept in every trial; it has no column and is not modelled."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import StrictBool, StrictInt, StrictStr, field_validator

from service.space.param_base import ParamBase, same_value


class FixedParam(ParamBase):
    """A constant: every suggested trial carries ``value``; an observation may omit it or repeat it."""

    column_kind: ClassVar[str] = "fixed"

    type: Literal["fixed"] = "fixed"
    value: StrictBool | StrictStr | StrictInt | float

    @field_validator("value")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("value must be finite")
        return value

    def encode_value(self, value: Any) -> float:
        if not same_value(value, self.value):
            raise ValueError(f"is fixed at {self.value!r}, got {value!r}")
        return 0.0

    def decode_value(self, u: float) -> Any:
        return self.value
