"""``type: "categorical"``: one of a list of choices (strings, integers or finite floats)."""

from __future__ import annotations

import math
import numbers
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator
from torch import Tensor

from service.space.param_base import Choice, ParamBase, same_value

MIN_CHOICES = 2
MAX_CHOICES = 1000


class CategoricalParam(ParamBase):
    """A parameter taking one of ``choices`` (2..1000 distinct strings, integers or finite floats);
    encoded as the choice index. Other parameters may be conditioned on it."""

    column_kind: ClassVar[str] = "categorical"
    can_be_parent: ClassVar[bool] = True

    type: Literal["categorical"] = "categorical"
    choices: Annotated[
        list[Choice], Field(json_schema_extra={"minItems": MIN_CHOICES, "maxItems": MAX_CHOICES, "uniqueItems": True})
    ]

    @field_validator("choices", mode="before")
    @classmethod
    def _no_bool_choices(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            for i, choice in enumerate(value):
                if isinstance(choice, bool):
                    raise ValueError(f"choice {i} is a boolean; choices must be strings or numbers")
        return value

    @field_validator("choices")
    @classmethod
    def _valid_choices(cls, value: list[Choice]) -> list[Choice]:
        if not (MIN_CHOICES <= len(value) <= MAX_CHOICES):
            raise ValueError(
                f"choices must have {MIN_CHOICES} to {MAX_CHOICES} entries (got {len(value)})"
            )
        for i, choice in enumerate(value):
            if isinstance(choice, float) and not math.isfinite(choice):
                raise ValueError(f"choice {i} must be finite")
        seen: list[Choice] = []
        for choice in value:
            if any(same_value(choice, other) for other in seen):
                raise ValueError(f"choices must be unique ({choice!r} appears twice)")
            seen.append(choice)
        return value

    @property
    def n_choices(self) -> int:
        return len(self.choices)

    def index_of(self, value: Any) -> int | None:
        """Index of ``value`` in ``choices`` (strings match strings, numbers match numbers), or None."""
        for i, choice in enumerate(self.choices):
            if same_value(value, choice):
                return i
        return None

    def encode_value(self, value: Any) -> float:
        index = self.index_of(value) if isinstance(value, (str, numbers.Real)) else None
        if index is None:
            raise ValueError(f"{value!r} is not one of the choices {self.choices!r}")
        return float(index)

    def decode_value(self, u: float) -> Any:
        if math.isnan(u):
            raise ValueError("cannot decode NaN")
        return self.choices[min(max(int(math.floor(u + 0.5)), 0), self.n_choices - 1)]

    def snap(self, column: Tensor) -> Tensor:
        return column.round().clamp(0.0, float(self.n_choices - 1))

    def from_unit(self, column: Tensor) -> Tensor:
        return (column * self.n_choices).floor().clamp(0.0, float(self.n_choices - 1))

    def upper_bound(self) -> float:
        return float(self.n_choices - 1)
