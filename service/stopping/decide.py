"""One entry point: the decision of a study's stopping policy on one report."""

from __future__ import annotations

from collections.abc import Callable

from service.stopping.curves import Decision, StoppingContext
from service.stopping.learning_curve_model import model_decision
from service.stopping.percentile_rule import percentile_decision
from service.stopping.settings import EarlyStoppingSettings
from service.stopping.successive_halving import successive_halving_decision

_POLICIES: dict[str, Callable[[StoppingContext, EarlyStoppingSettings], Decision]] = {
    "none": lambda context, settings: Decision(False, "early stopping is off for this study"),
    "median": lambda context, settings: percentile_decision(context, settings, 50.0),
    "percentile": lambda context, settings: percentile_decision(context, settings, settings.percentile),
    "successive_halving": successive_halving_decision,
    "model": model_decision,
}


def decide(context: StoppingContext, settings: EarlyStoppingSettings) -> Decision:
    """The study's policy applied to the report in ``context`` (no database access)."""
    return _POLICIES[settings.policy](context, settings)
