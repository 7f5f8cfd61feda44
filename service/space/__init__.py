"""Search spaces: parameter models (validation) and their tensor encoding."""

from service.space.params import (
    CategoricalParam,
    FloatParam,
    IntParam,
    Parameter,
    validate_parameter_list,
)
from service.space.search_space import SearchSpace, SpaceError

__all__ = [
    "CategoricalParam",
    "FloatParam",
    "IntParam",
    "Parameter",
    "SearchSpace",
    "SpaceError",
    "validate_parameter_list",
]
