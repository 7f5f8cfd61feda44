"""``type: "bool"``: ``false`` or ``true``, modelled as a two-choice categorical (index 0 / 1)."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from torch import Tensor

from service.space.param_base import ParamBase


class BoolParam(ParamBase):
    """A boolean parameter (JSON ``true``/``false`` only). Other parameters may be conditioned on it."""

    column_kind: ClassVar[str] = "categorical"
    can_be_parent: ClassVar[bool] = True
    choices: ClassVar[list[bool]] = [False, True]
    n_choices: ClassVar[int] = 2

    type: Literal["bool"] = "bool"

    def encode_value(self, value: Any) -> float:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {type(value).__name__} {value!r}")
        return 1.0 if value else 0.0

    def decode_value(self, u: float) -> Any:
        if math.isnan(u):
            raise ValueError("cannot decode NaN")
        return u >= 0.5

    def snap(self, column: Tensor) -> Tensor:
        return column.round().clamp(0.0, 1.0)

    def from_unit(self, column: Tensor) -> Tensor:
        return (column * 2).floor().clamp(0.0, 1.0)

    def upper_bound(self) -> float:
        return 1.0
