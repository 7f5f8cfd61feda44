"""A study's early-stopping settings, as declared in ``POST /v1/studies`` (``early_stopping``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

StoppingPolicyName = Literal["none", "median", "percentile", "successive_halving", "model"]

#: ``model``'s default threshold on the probability of beating the incumbent. Chosen on the
#: benchmark tasks themselves (``benchmarks.early_stopping``, mlp-breast_cancer and sgd-digits:
#: in-sample, not validated on other tasks): 0.1 kept the best final error of no stopping there
#: at under half the epochs (0.39 and 0.47 of them, seeds 0-4), where 0.05 spent more epochs
#: for the same error and 0.2 lost the best configuration on some seeds.
DEFAULT_MODEL_THRESHOLD = 0.1
#: The first step at which a policy may stop a trial when ``min_steps`` is not given: the model
#: can judge a curve from its second report; the rank rules (median, percentile, successive
#: halving) compare values that are noisy early on, as Optuna's ``n_warmup_steps=5``.
DEFAULT_FIRST_STEP = {"model": 1}
RULE_FIRST_STEP = 5


class EarlyStoppingSettings(BaseModel):
    """Which rule may stop a trial from its intermediate values, and its settings.

    - ``none``: never stop.
    - ``median`` / ``percentile``: stop when the trial's best value so far is worse than the
      median (``percentile``-th percentile) of the completed trials' values at the same step.
    - ``successive_halving``: asynchronous successive halving; at each rung step
      ``min_resource * reduction_factor**k`` a trial continues only when its value is within the
      best ``1/reduction_factor`` of all values recorded at that rung.
    - ``model``: a Bayesian learning-curve model predicts the change still to come from the curve
      so far; stop when the probability that the final value beats the best completed trial is
      below ``threshold``.

    ``min_steps`` (no trial is stopped before that step) defaults by policy: 1 for ``model`` (it
    judges a curve from its second report), 5 for the others.
    """

    model_config = ConfigDict(extra="forbid")

    policy: StoppingPolicyName = "none"
    min_steps: Annotated[int | None, Field(
        ge=0, description="no trial is stopped before this step; null (default): 1 for model, 5 for the other "
                          "policies")] = None
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
    def first_step(self) -> int:
        """The first step at which a trial may be stopped: ``min_steps``, or the policy's default."""
        if self.min_steps is not None:
            return self.min_steps
        return DEFAULT_FIRST_STEP.get(self.policy, RULE_FIRST_STEP)

    @property
    def active(self) -> bool:
        """Whether a report can stop a trial at all."""
        return self.policy != "none"
