"""The ``model`` policy: a Bayesian learning-curve model gives the odds of beating the incumbent.

Model. For the reporting trial at step ``s`` with value ``v(s)``, each completed trial that
reached ``s`` is one example: feature ``phi = [1, v(s) - v(s // 2)]`` (its recent improvement)
and target the change still to come, ``final - v(s)`` (its observed final value minus its value
at ``s``). A conjugate Bayesian linear regression
(:class:`bdl_core.conjugate_linear.ConjugateLinearRegression`, the reference prior) maps ``phi``
to a Student-t predictive of that remaining change; the trial's final value is predicted as
``v(s)`` plus it, and the probability that the trial beats the incumbent (the best completed
final value) is that predictive's mass below the incumbent. The trial is stopped when the
probability is below ``threshold``.

Why the remaining change rather than the final value: curves of one study end close to where
they are once they flatten, so the remaining change is small and nearly independent of the
level, and a regression on it needs no coefficient for ``v(s)`` (one fewer parameter to learn
from a handful of completed trials); the level enters exactly, through ``v(s)``.

Quantised values. A validation error ``1 - accuracy`` on ``n`` points lives on a lattice of
spacing ``1/n``, and many trials tie the incumbent. A tie does not beat it: when the observed
values look lattice-like (:func:`value_resolution`), the comparison is made at half a lattice
step below the incumbent (a continuity correction), so the probability is that of a final value
at least one lattice step better.

A trial is never stopped at or after the last step a completed trial reached: there is nothing
left to save there.

Why this model: it is fitted per step in closed form (about a millisecond; no fit state, nothing
to warm start), and its predictive intervals have exact coverage when the remaining change is
linear-Gaussian in the feature, which is what the calibration test checks. A GP or LLA over
(parameters, step) could share strength across parameters; it was not measured here. The
feature uses only the curve, not the parameters. Probabilities come from scipy's Student-t CDF
(torch has none).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from scipy.stats import t as student_t

from bdl_core.conjugate_linear import ConjugateLinearRegression
from service.stopping.curves import Curve, Decision, StoppingContext
from service.stopping.settings import EarlyStoppingSettings

#: Features per example (intercept, recent change): the model needs more examples than this.
N_FEATURES = 2
#: Distinct values needed before a set of values is taken to lie on a lattice.
LATTICE_MIN_DISTINCT = 3
#: How far (in lattice steps) a value may sit from the lattice and still be on it (float rounding).
LATTICE_TOLERANCE = 1e-6
#: More lattice steps than this between the smallest and largest value: not taken as a lattice.
LATTICE_MAX_STEPS = 1e6
#: The finest lattice tried is the smallest gap divided by this.
LATTICE_MAX_DIVISOR = 10
#: Values closer than this (relative to their magnitude, at least 1) are one value (float rounding).
SAME_VALUE = 1e-9


def curve_features(curve: Curve, step: int) -> list[float] | None:
    """``[1, v(s) - v(s // 2)]`` for a curve at ``step`` (``None`` when it has no value by then).

    ``v(s // 2)`` is the last value at or before ``s // 2``, or the first value when the curve
    started later.
    """
    now = curve.value_at(step)
    if now is None:
        return None
    earlier = curve.value_at(step // 2)
    if earlier is None:
        earlier = curve.values[0]
    return [1.0, now - earlier]


def value_resolution(values: Iterable[float]) -> float | None:
    """The lattice spacing of ``values`` when they look quantised, else ``None``.

    Values within float rounding of each other (:data:`SAME_VALUE` of their magnitude) count as
    one. The spacing is the smallest positive gap between distinct values, or that gap divided by
    2, 3, ... :data:`LATTICE_MAX_DIVISOR` when the values sit on that finer lattice only (gaps of
    2 and 3 steps: the spacing is one step). The values look quantised when there are at least
    :data:`LATTICE_MIN_DISTINCT` distinct ones and every one sits on the lattice
    ``min + k * spacing`` (within :data:`LATTICE_TOLERANCE` of a step, ``k`` at most
    :data:`LATTICE_MAX_STEPS`). Continuous values almost never do: their smallest gap is tiny
    and the other gaps are not multiples of it.
    """
    finite = sorted(float(v) for v in values if math.isfinite(v))
    if not finite:
        return None
    same = SAME_VALUE * max(1.0, abs(finite[0]), abs(finite[-1]))
    distinct = finite[:1]
    for value in finite[1:]:
        if value - distinct[-1] > same:
            distinct.append(value)
    if len(distinct) < LATTICE_MIN_DISTINCT:
        return None
    smallest = min(b - a for a, b in zip(distinct, distinct[1:]))
    for divisor in range(1, LATTICE_MAX_DIVISOR + 1):
        spacing = smallest / divisor
        if all(_on_lattice(value - distinct[0], spacing) for value in distinct[1:]):
            return spacing
    return None


def _on_lattice(offset: float, spacing: float) -> bool:
    """Whether ``offset`` is a whole number (at most :data:`LATTICE_MAX_STEPS`) of ``spacing`` steps."""
    steps = offset / spacing
    return steps <= LATTICE_MAX_STEPS and abs(steps - round(steps)) <= LATTICE_TOLERANCE


def probability_of_beating(reference: list[Curve], current: Curve, step: int, incumbent: float,
                           resolution: float | None = None) -> float | None:
    """P(final value of ``current`` beats ``incumbent``) from the completed ``reference`` curves at ``step``.

    Beating means ``final < incumbent``, or ``final <= incumbent - resolution`` on a lattice of
    spacing ``resolution`` (evaluated at ``incumbent - resolution / 2``). When every example has
    the same recent change the change is dropped (intercept only); ``None`` when the regression
    still cannot be fitted (too few examples).
    """
    rows, targets = [], []
    for curve in reference:
        features = curve_features(curve, step) if curve.reached(step) else None
        if features is not None and curve.final is not None:
            rows.append(features)
            targets.append(curve.final - curve.value_at(step))
    query = curve_features(current, step)
    now = current.value_at(step)
    if query is None or now is None or len(rows) <= N_FEATURES:
        return None
    X = torch.tensor(rows, dtype=torch.float64)
    y = torch.tensor(targets, dtype=torch.float64)
    x = torch.tensor([query], dtype=torch.float64)
    if int(torch.linalg.matrix_rank(X)) < X.shape[1]:  # every curve changed by the same amount: intercept only
        X, x = X[:, :1], x[:, :1]
    try:
        predictive = ConjugateLinearRegression().fit(X, y).predict(x)
    except (torch.linalg.LinAlgError, ValueError):
        return None
    bound = incumbent - (resolution / 2 if resolution else 0.0) - now  # the remaining change that beats it
    loc, scale = float(predictive.loc[0]), float(predictive.scale[0])
    if not scale > 0:  # the reference changes are fitted exactly: the prediction is certain
        return 1.0 if loc < bound else 0.0
    return float(student_t.cdf((bound - loc) / scale, predictive.df))


def model_decision(context: StoppingContext, settings: EarlyStoppingSettings) -> Decision:
    """Stop when the probability of beating the incumbent is below ``settings.threshold``."""
    step, first = context.step, settings.first_step
    if step < first:
        return Decision(False, f"step {step} < min_steps {first}")
    if context.incumbent is None:
        return Decision(False, "no completed trial yet")
    last = max((c.steps[-1] for c in context.completed if c.steps), default=None)
    if last is not None and step >= last:
        return Decision(False, f"step {step} is at or after the last step {last} of a completed trial: "
                               "nothing left to save")
    usable = [c for c in context.completed if c.final is not None and c.reached(step)]
    needed = max(settings.min_trials, N_FEATURES + 1)
    if len(usable) < needed:
        return Decision(False, f"{len(usable)} completed curves reached step {step}; the model needs {needed}")
    observed = [v for c in usable for v in c.values] + [c.final for c in usable if c.final is not None]
    resolution = value_resolution(observed + list(context.current.values))
    probability = probability_of_beating(usable, context.current, step, context.incumbent, resolution)
    if probability is None:
        return Decision(False, "the learning-curve model could not be fitted")
    verdict = "<" if probability < settings.threshold else ">="
    return Decision(probability < settings.threshold,
                    f"probability of beating the incumbent {probability:.3g} {verdict} threshold "
                    f"{settings.threshold:g}", probability)
