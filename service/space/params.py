"""Parameter definitions of a search space: the registered kinds and checks of a whole list.

Each kind is one file (``float_param``, ``int_param``, ``categorical_param``, ``bool_param``,
``fixed_param``) plus one ``register_parameter_kind`` line below; ``Parameter`` is the
discriminated union (on ``type``) of the registered kinds, which is what the API and its
OpenAPI schema use.

Validation lives in field validators so that a bad field is reported at its own location
(e.g. ``["parameters", 0, "high"]``) with a message naming the problem; the API layer turns
those into 422 responses. A list is checked as a whole by :func:`validate_parameter_list`:
count, unique names, and the conditions (``when``) forming a forest (``conditions``).
"""

from __future__ import annotations

from typing import Annotated, Any, Sequence, Union

from pydantic import Field, TypeAdapter

from service.space.bool_param import BoolParam
from service.space.categorical_param import MAX_CHOICES, MIN_CHOICES, CategoricalParam
from service.space.conditions import check_conditions
from service.space.fixed_param import FixedParam
from service.space.float_param import FloatParam
from service.space.int_param import IntParam
from service.space.param_base import MAX_NAME_LENGTH, NAME_PATTERN, ParamBase, When, parameter_kinds, register_parameter_kind

MIN_PARAMETERS = 1
MAX_PARAMETERS = 100

register_parameter_kind(FloatParam)
register_parameter_kind(IntParam)
register_parameter_kind(CategoricalParam)
register_parameter_kind(BoolParam)
register_parameter_kind(FixedParam)

Parameter = Annotated[Union[tuple(parameter_kinds().values())], Field(discriminator="type")]  # type: ignore[misc]

_PARAMETER_ADAPTER: TypeAdapter = TypeAdapter(Parameter)

__all__ = [
    "MAX_CHOICES", "MAX_NAME_LENGTH", "MAX_PARAMETERS", "MIN_CHOICES", "MIN_PARAMETERS", "NAME_PATTERN",
    "BoolParam", "CategoricalParam", "FixedParam", "FloatParam", "IntParam", "ParamBase", "Parameter", "When",
    "validate_parameter_list",
]


def validate_parameter_list(params: Sequence[Any]) -> list:
    """Check a list of parameters as a whole: 1..100 entries, unique names, valid conditions.

    Args:
        params: parameter models (or dicts, which are validated into models).

    Returns:
        The list of parameter models.

    Raises:
        ValueError: naming the offending parameter (duplicate name, bad condition) or the count problem.
    """
    if not isinstance(params, (list, tuple)):
        raise ValueError("parameters must be a list")
    if not (MIN_PARAMETERS <= len(params) <= MAX_PARAMETERS):
        raise ValueError(
            f"parameters must have {MIN_PARAMETERS} to {MAX_PARAMETERS} entries (got {len(params)})"
        )
    models = [p if isinstance(p, ParamBase) else _PARAMETER_ADAPTER.validate_python(p) for p in params]
    seen: set[str] = set()
    for model in models:
        if model.name in seen:
            raise ValueError(f"parameter '{model.name}': duplicate parameter name")
        seen.add(model.name)
    if all(model.column == "fixed" for model in models):
        raise ValueError("parameters: at least one parameter must be searched (every one is 'fixed')")
    check_conditions(models)
    return models
