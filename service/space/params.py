"""Parameter definitions of a search space (pydantic v2 models).

Three parameter kinds, told apart by the ``type`` discriminator:

* ``FloatParam``: a real number in ``[low, high]``, optionally searched in log space;
* ``IntParam``: an integer in ``[low, high]`` (both ends included), optionally in log space;
* ``CategoricalParam``: one of a list of choices (strings, integers or finite floats).

Validation lives in field validators so that a bad field is reported at its own
location (e.g. ``["parameters", 0, "high"]``) with a message naming the problem; the
API layer turns those into 422 responses. The JSON Schema of each model also states the rules it
can express (lengths, counts, uniqueness, a name pattern no stricter than the validators), so
clients and schema-driven fuzzers see them; the validators stay the source of the messages.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Sequence

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

MAX_NAME_LENGTH = 128
MIN_CHOICES = 2
MAX_CHOICES = 1000
MIN_PARAMETERS = 1
MAX_PARAMETERS = 100

#: JSON-Schema pattern of a name: no leading or trailing whitespace, one line. The validator is
#: stricter (printable characters only), so everything this pattern rejects is rejected.
NAME_PATTERN = r"^\S(.*\S)?$"
_NAME_SCHEMA = {"minLength": 1, "maxLength": MAX_NAME_LENGTH, "pattern": NAME_PATTERN}


def _type_is_required(schema: dict[str, Any]) -> None:
    """``type`` tells the kinds apart in a request, so the JSON Schema lists it as required."""
    required = schema.setdefault("required", [])
    if "type" not in required:
        required.append("type")


def _check_name(value: str) -> str:
    """Return ``value`` if it is a valid parameter name (1..128 characters)."""
    if not isinstance(value, str) or not (1 <= len(value) <= MAX_NAME_LENGTH):
        raise ValueError(f"name must be a string of 1 to {MAX_NAME_LENGTH} characters")
    if value.strip() != value or any(not ch.isprintable() for ch in value):
        raise ValueError("name must not contain leading/trailing whitespace or control characters")
    return value


def _reject_bool(value: Any) -> Any:
    """Booleans are not numbers here (``True`` would otherwise coerce to 1)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


class _ParamBase(BaseModel):
    """Shared fields and configuration: unknown fields are rejected, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_type_is_required)

    name: Annotated[str, Field(json_schema_extra=_NAME_SCHEMA)]

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_name(value)


class _RangeBase(_ParamBase):
    """Checks shared by numeric ranges: no booleans, ``low < high``, ``log`` needs ``low > 0``."""

    @field_validator("low", "high", mode="before", check_fields=False)
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        return _reject_bool(value)

    @field_validator("low", "high", check_fields=False)
    @classmethod
    def _finite(cls, value: float, info: ValidationInfo) -> float:
        if not math.isfinite(value):
            raise ValueError(f"{info.field_name} must be finite")
        return value

    @field_validator("high", check_fields=False)
    @classmethod
    def _high_above_low(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("low")
        if low is not None and not value > low:
            raise ValueError("high must be greater than low")
        return value

    @field_validator("log", check_fields=False)
    @classmethod
    def _log_needs_positive_low(cls, value: bool, info: ValidationInfo) -> bool:
        low = info.data.get("low")
        if value and low is not None and not low > 0:
            raise ValueError("log=True needs low > 0")
        return value


class FloatParam(_RangeBase):
    """A real-valued parameter in ``[low, high]``; ``log=True`` searches ``log(x)`` uniformly."""

    type: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False


class IntParam(_RangeBase):
    """An integer parameter in ``[low, high]`` (inclusive); ``log=True`` searches in log space."""

    type: Literal["int"] = "int"
    low: int
    high: int
    log: bool = False

    @property
    def n_values(self) -> int:
        """Number of integers in ``[low, high]``."""
        return self.high - self.low + 1


Choice = StrictStr | StrictInt | float


class CategoricalParam(_ParamBase):
    """A parameter taking one of ``choices`` (2..1000 distinct strings, integers or finite floats)."""

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
            if any(_same_choice(choice, other) for other in seen):
                raise ValueError(f"choices must be unique ({choice!r} appears twice)")
            seen.append(choice)
        return value

    def index_of(self, value: Any) -> int | None:
        """Index of ``value`` in ``choices`` (strings match strings, numbers match numbers), or None."""
        for i, choice in enumerate(self.choices):
            if _same_choice(value, choice):
                return i
        return None


def _same_choice(a: Any, b: Any) -> bool:
    """Equality of choices without bool/number or str/number confusion (1 == 1.0, "1" != 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return a == b


Parameter = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]

_PARAMETER_ADAPTER: TypeAdapter = TypeAdapter(Parameter)


def validate_parameter_list(params: Sequence[Any]) -> list:
    """Check a list of parameters as a whole: 1..100 entries and unique names.

    Args:
        params: parameter models (or dicts, which are validated into models).

    Returns:
        The list of parameter models.

    Raises:
        ValueError: naming the offending parameter (duplicate name) or the count problem.
    """
    if not isinstance(params, (list, tuple)):
        raise ValueError("parameters must be a list")
    if not (MIN_PARAMETERS <= len(params) <= MAX_PARAMETERS):
        raise ValueError(
            f"parameters must have {MIN_PARAMETERS} to {MAX_PARAMETERS} entries (got {len(params)})"
        )
    models = [
        p if isinstance(p, (FloatParam, IntParam, CategoricalParam))
        else _PARAMETER_ADAPTER.validate_python(p)
        for p in params
    ]
    seen: set[str] = set()
    for model in models:
        if model.name in seen:
            raise ValueError(f"parameter '{model.name}': duplicate parameter name")
        seen.add(model.name)
    return models
