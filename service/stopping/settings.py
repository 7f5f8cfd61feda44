"""A study's early-stopping settings, as declared in ``POST /v1/studies`` (``early_stopping``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

StoppingPolicyName = Literal["none", "median", "percentile", "successive_halving", "model"]

#: ``model``'s default threshold on the probability of beating the incumbent (benchmarks.early_stopping).
DEFAULT_MODEL_THRESHOLD = 0.05


class EarlyStoppingSettings(BaseModel):
    """Which rule may stop a trial from its intermediate values, and its settings.

    - ``none``: never stop.
    - ``median`` / ``percentile``: stop when the trial's best value so far is worse than the
      median (``percentile``-th percentile) of the completed trials' values at the same step.
    - ``successive_halving``: asynchronous successive halving; at each rung step
      ``min_resource * reduction_factor**k`` a trial continues only when its value is within the
      best ``1/reduction_factor`` of all values recorded at that rung.
    - ``model``: a Bayesian learning-curve model predicts the final value from the curve so far;
      stop when the probability that it beats the best completed trial is below ``threshold``.
    """

    model_config = ConfigDict(extra="forbid")

    policy: StoppingPolicyName = "none"
    min_steps: Annotated[int, Field(ge=0, description="no trial is stopped before this step")] = 5
    min_trials: Annotated[int, Field(
        ge=1, le=10_000, description="completed trials with a value at the step needed before any stop (median, "
                                     "percentile, model)")] = 5
    percentile: Annotated[float, Field(
        gt=0, lt=100, description="percentile policy: stop when worse than this percentile (lower is stricter)")] = 25.0
    reduction_factor: Annotated[int, Field(ge=2, le=100, description="successive halving: 1/rate kept per rung")] = 3
    min_resource: Annotated[int, Field(ge=1, description="successive halving: the first rung's step")] = 1
    threshold: Annotated[float, Field(
        gt=0, lt=1, description="model: stop below this probability of beating the incumbent")] = DEFAULT_MODEL_THRESHOLD

    @property
    def active(self) -> bool:
        """Whether a report can stop a trial at all."""
        return self.policy != "none"
