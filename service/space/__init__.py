"""Search spaces: parameter kinds (validation) and their tensor encoding."""

from service.space.params import (
    BoolParam,
    CategoricalParam,
    FixedParam,
    FloatParam,
    IntParam,
    Parameter,
    validate_parameter_list,
)
from service.space.search_space import SearchSpace, SpaceError

__all__ = [
    "BoolParam",
    "CategoricalParam",
    "FixedParam",
    "FloatParam",
    "IntParam",
    "Parameter",
    "SearchSpace",
    "SpaceError",
    "validate_parameter_list",
]
