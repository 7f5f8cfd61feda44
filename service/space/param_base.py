"""What every parameter kind shares: a name, an optional condition, and a column codec.

A parameter kind is one pydantic model deriving :class:`ParamBase` (one file in
``service/space/``) plus one :func:`register_parameter_kind` line in ``params.py``; the
``Parameter`` union of the API is built from the registered kinds. Besides its fields and
validators, a kind says how it occupies the tensor encoding (``column``):

* ``"continuous"``: one column in ``[0, 1]``, optimised as a real number;
* ``"grid"``: one column in ``[0, 1]`` holding the encodings of finitely many values
  (``grid_encodings``), snapped to the nearest one;
* ``"categorical"``: one column holding a choice index ``0..n_choices-1``;
* ``"fixed"``: no column (the value is the same in every trial and is not modelled).

and implements ``encode_value`` (raising ``ValueError`` with a message), ``decode_value``
(any in-box number to a valid value) and ``snap`` (vectorised canonicalisation of a column).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator
from torch import Tensor

MAX_NAME_LENGTH = 128

#: JSON-Schema pattern of a name: no leading or trailing whitespace, one line. The validator is
#: stricter (printable characters only), so everything this pattern rejects is rejected.
NAME_PATTERN = r"^\S(.*\S)?$"
NAME_SCHEMA = {"minLength": 1, "maxLength": MAX_NAME_LENGTH, "pattern": NAME_PATTERN}

#: A value a categorical choice, a condition or a fixed parameter can hold.
Choice = StrictStr | StrictInt | float
ConditionValue = StrictBool | StrictStr | StrictInt | float


def type_is_required(schema: dict[str, Any]) -> None:
    """``type`` tells the kinds apart in a request, so the JSON Schema lists it as required."""
    required = schema.setdefault("required", [])
    if "type" not in required:
        required.append("type")


def check_name(value: str) -> str:
    """Return ``value`` if it is a valid parameter name (1..128 characters)."""
    if not isinstance(value, str) or not (1 <= len(value) <= MAX_NAME_LENGTH):
        raise ValueError(f"name must be a string of 1 to {MAX_NAME_LENGTH} characters")
    if value.strip() != value or any(not ch.isprintable() for ch in value):
        raise ValueError("name must not contain leading/trailing whitespace or control characters")
    return value


def reject_bool(value: Any) -> Any:
    """Booleans are not numbers here (``True`` would otherwise coerce to 1)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def same_value(a: Any, b: Any) -> bool:
    """Equality without bool/number or str/number confusion (1 == 1.0, "1" != 1, True != 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return a == b


class When(BaseModel):
    """The condition of a conditional parameter: active only when ``parent`` takes one of ``values``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parent: Annotated[str, Field(json_schema_extra=NAME_SCHEMA)]
    values: Annotated[list[ConditionValue], Field(min_length=1, max_length=1000)]

    @field_validator("values")
    @classmethod
    def _finite(cls, value: list) -> list:
        for i, v in enumerate(value):
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"value {i} must be finite")
        return value


class ParamBase(BaseModel):
    """Shared fields and configuration: unknown fields are rejected, models are immutable.

    Class attributes:
        column_kind: how the kind occupies the encoding (module docstring).
        can_be_parent: whether other parameters may be conditioned on this one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=type_is_required)

    column_kind: ClassVar[str] = "continuous"
    can_be_parent: ClassVar[bool] = False

    name: Annotated[str, Field(json_schema_extra=NAME_SCHEMA)]
    when: When | None = Field(
        default=None, description="make the parameter conditional: active only when `parent` takes one of `values`"
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_name(value)

    # ------------------------------------------------------------------ codec (overridden per kind)
    @property
    def column(self) -> str:
        """How this parameter occupies the encoding (module docstring)."""
        return self.column_kind

    def encode_value(self, value: Any) -> float:
        """The encoding of ``value``; ``ValueError`` (a message for the client) when it does not fit."""
        raise NotImplementedError

    def decode_value(self, u: float) -> Any:
        """The (JSON-plain) value at encoded coordinate ``u`` (clamped and rounded)."""
        raise NotImplementedError

    def snap(self, column: Tensor) -> Tensor:
        """Vectorised ``encode(decode(u))`` of a column."""
        return column.clamp(0.0, 1.0)

    def from_unit(self, column: Tensor) -> Tensor:
        """Map a uniform ``[0, 1]`` column into the encoding (before ``snap``)."""
        return column

    def upper_bound(self) -> float:
        """Upper end of the encoded column (1, or ``n_choices - 1`` for categorical columns)."""
        return 1.0

    def canonical_value(self, value: Any) -> Any:
        """The stored form of a valid ``value`` (e.g. ``3.0`` -> ``3`` for an int)."""
        return value

    def holds(self, value: Any) -> bool:
        """Whether ``value`` is one this parameter can take."""
        try:
            self.encode_value(value)
        except ValueError:
            return False
        return True


_KINDS: dict[str, type[ParamBase]] = {}


def register_parameter_kind(kind: type[ParamBase]) -> type[ParamBase]:
    """Register a parameter kind under its ``type`` literal (its default)."""
    name = kind.model_fields["type"].default
    if name in _KINDS and _KINDS[name] is not kind:
        raise ValueError(f"parameter type '{name}' is registered twice")
    _KINDS[name] = kind
    return kind


def parameter_kinds() -> dict[str, type[ParamBase]]:
    """The registered kinds, ``{type: model}`` in registration order."""
    return dict(_KINDS)
