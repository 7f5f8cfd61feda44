"""Optimizer policies and the surrogates behind them.

``get_policy("random")`` is the scrambled-Sobol policy; every other name is a registered
:class:`Surrogate` served by the one :class:`ModelBasedPolicy`. Surrogates are registered
here, one line each; their modules (and BoTorch) are imported only when first used.
"""

from service.optimizers.base import Policy, Prediction, PredictionUnavailable, SuggestRequest, Suggestion
from service.optimizers.auto_options import AutoOptions
from service.optimizers.gp_options import GPOptions
from service.optimizers.lla_options import LLAOptions
from service.optimizers.registry import (
    describe_surrogates,
    get_policy,
    prediction_policy,
    register_surrogate,
    surrogate_entry,
    surrogate_names,
    unregister_surrogate,
    validate_surrogate_options,
)
from service.optimizers.sobol import SobolPolicy
from service.optimizers.surrogate import FittedSurrogate, Surrogate
from service.optimizers.surrogate_state import SurrogateState


def _gp():
    from service.optimizers.gp import GPSurrogate

    return GPSurrogate()


def _lla():
    from service.optimizers.lla import LLASurrogate

    return LLASurrogate()


def _auto():
    from service.optimizers.auto import AutoSurrogate

    return AutoSurrogate()


register_surrogate("gp", _gp, options_model=GPOptions, description="Gaussian process (BoTorch SingleTaskGP / MixedSingleTaskGP)")
register_surrogate("lla", _lla, options_model=LLAOptions,
                   description="linearised Laplace approximation of an MLP (bdl_core)")
register_surrogate("auto", _auto, options_model=AutoOptions,
                   description="fits gp and lla and lets the one with the higher evidence (or LOO score) propose")

__all__ = [
    "FittedSurrogate",
    "Policy",
    "Prediction",
    "PredictionUnavailable",
    "SobolPolicy",
    "SuggestRequest",
    "Suggestion",
    "Surrogate",
    "SurrogateState",
    "describe_surrogates",
    "get_policy",
    "prediction_policy",
    "register_surrogate",
    "surrogate_entry",
    "surrogate_names",
    "unregister_surrogate",
    "validate_surrogate_options",
]
