"""The ``model`` policy: a Bayesian learning-curve model gives the odds of beating the incumbent.

Model. For the reporting trial at step ``s``, each completed trial that reached ``s`` is one
example: features ``phi = [1, v(s), v(s) - v(s // 2)]`` (its value at ``s`` and its change
over the second half of the steps so far) and target its observed final value. A conjugate
Bayesian linear regression (:class:`bdl_core.conjugate_linear.ConjugateLinearRegression`, the
reference prior) maps ``phi`` to a Student-t predictive of the final value; the probability
that the trial beats the incumbent (the best completed final value) is that Student-t's mass
below the incumbent. The trial is stopped when the probability is below ``threshold``.

Why this model: it is a Bayesian model over (curve so far, step) -> final value fitted per
step, closed form (about a millisecond; no fit state, nothing to warm start), and its
predictive intervals have exact coverage when the final value is linear-Gaussian in the
features, which is what the calibration test checks. A GP or LLA over (parameters, step) could
share strength across parameters; it was not measured here. The features use only the curve,
not the parameters. Probabilities come from scipy's Student-t CDF (torch has none).
"""

from __future__ import annotations

import torch
from scipy.stats import t as student_t

from bdl_core.conjugate_linear import ConjugateLinearRegression
from service.stopping.curves import Curve, Decision, StoppingContext
from service.stopping.settings import EarlyStoppingSettings

#: Features per example (intercept, value, recent change): the model needs more examples than this.
N_FEATURES = 3


def curve_features(curve: Curve, step: int) -> list[float] | None:
    """``[1, v(s), v(s) - v(s // 2)]`` for a curve at ``step`` (``None`` when it has no value by then).

    ``v(s // 2)`` is the last value at or before ``s // 2``, or the first value when the curve
    started later.
    """
    now = curve.value_at(step)
    if now is None:
        return None
    earlier = curve.value_at(step // 2)
    if earlier is None:
        earlier = curve.values[0]
    return [1.0, now, now - earlier]


def probability_of_beating(reference: list[Curve], current: Curve, step: int, incumbent: float) -> float | None:
    """P(final value of ``current`` < ``incumbent``) from the completed ``reference`` curves at ``step``.

    When the features are collinear (every curve changed by the same amount) the change is
    dropped; ``None`` when the regression still cannot be fitted (too few examples, curves that
    all sit at one value).
    """
    rows, targets = [], []
    for curve in reference:
        features = curve_features(curve, step) if curve.reached(step) else None
        if features is not None and curve.final is not None:
            rows.append(features)
            targets.append(curve.final)
    query = curve_features(current, step)
    if query is None or len(rows) <= N_FEATURES:
        return None
    X = torch.tensor(rows, dtype=torch.float64)
    y = torch.tensor(targets, dtype=torch.float64)
    x = torch.tensor([query], dtype=torch.float64)
    if int(torch.linalg.matrix_rank(X)) < X.shape[1]:  # e.g. every curve changed by the same amount: drop the change
        X, x = X[:, :2], x[:, :2]
        if int(torch.linalg.matrix_rank(X)) < 2:
            return None
    try:
        predictive = ConjugateLinearRegression().fit(X, y).predict(x)
    except (torch.linalg.LinAlgError, ValueError):
        return None
    scale = float(predictive.scale[0])
    loc = float(predictive.loc[0])
    if not scale > 0:  # the reference finals are fitted exactly: the prediction is certain
        return 1.0 if loc < incumbent else 0.0
    return float(student_t.cdf((incumbent - loc) / scale, predictive.df))


def model_decision(context: StoppingContext, settings: EarlyStoppingSettings) -> Decision:
    """Stop when the probability of beating the incumbent is below ``settings.threshold``."""
    step = context.step
    if step < settings.min_steps:
        return Decision(False, f"step {step} < min_steps {settings.min_steps}")
    if context.incumbent is None:
        return Decision(False, "no completed trial yet")
    usable = [c for c in context.completed if c.final is not None and c.reached(step)]
    needed = max(settings.min_trials, N_FEATURES + 1)
    if len(usable) < needed:
        return Decision(False, f"{len(usable)} completed curves reached step {step}; the model needs {needed}")
    probability = probability_of_beating(usable, context.current, step, context.incumbent)
    if probability is None:
        return Decision(False, "the learning-curve model could not be fitted (collinear curves)")
    if probability < settings.threshold:
        return Decision(True, f"probability of beating the incumbent {probability:.3g} < threshold "
                              f"{settings.threshold:g}", probability)
    return Decision(False, f"probability of beating the incumbent {probability:.3g} >= threshold "
                           f"{settings.threshold:g}", probability)
