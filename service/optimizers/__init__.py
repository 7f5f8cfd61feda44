"""Optimizer policies: encoded study history in, batches of encoded points out.

``get_policy("random")`` is the scrambled-Sobol policy, ``get_policy("gp")`` the GP policy,
``get_policy("lla")`` the linearised-Laplace neural-network policy (both imported lazily:
BoTorch is only loaded when a model policy is first asked for).
"""

from service.optimizers.base import (
    Policy,
    PredictionUnavailable,
    SuggestRequest,
    Suggestion,
    available_policies,
    get_policy,
    register_policy,
)
from service.optimizers.sobol import SobolPolicy


def _gp_policy() -> Policy:
    from service.optimizers.gp import GPPolicy

    return GPPolicy()


def _lla_policy() -> Policy:
    from service.optimizers.lla import LLAPolicy

    return LLAPolicy()


register_policy("random", SobolPolicy)
register_policy("gp", _gp_policy)
register_policy("lla", _lla_policy)

__all__ = [
    "Policy",
    "PredictionUnavailable",
    "SobolPolicy",
    "SuggestRequest",
    "Suggestion",
    "available_policies",
    "get_policy",
    "register_policy",
]
