"""The model policy's rules around the probability: the last completed step, quantised values, min_steps.

The lattice correction is checked against a brute-force sum over lattice cells of a predictive
worked out by hand (intercept only: the classical least-squares prediction interval), in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t as student_t

from service.stopping import Curve, EarlyStoppingSettings, StoppingContext, decide
from service.stopping.learning_curve_model import probability_of_beating, value_resolution

N_STEPS = 10


def _reference(rng: np.random.Generator, n: int) -> list[Curve]:
    """Decaying curves ``f + a / (s + 1)`` with a little noise; the final value is the last one."""
    curves = []
    for number in range(n):
        level, amplitude = rng.uniform(0.1, 0.3), rng.uniform(0.2, 0.6)
        values = [level + amplitude / (s + 1) + 0.005 * rng.standard_normal() for s in range(N_STEPS)]
        curves.append(Curve(number, tuple(range(N_STEPS)), tuple(values), values[-1]))
    return curves


def _context(current: Curve, completed: list[Curve]) -> StoppingContext:
    step = current.steps[-1]
    return StoppingContext(current=current, step=step, previous_step=step - 1 if step else None,
                           completed=completed, others=completed, incumbent=min(c.final for c in completed))


def test_no_stop_at_or_after_the_last_step_a_completed_trial_reached():
    completed = _reference(np.random.default_rng(0), 12)
    settings = EarlyStoppingSettings(policy="model", min_trials=3)
    hopeless = [5.0 + 1.0 / (s + 1) for s in range(N_STEPS + 2)]

    def at(step: int, reference: list[Curve]):
        current = Curve(99, tuple(range(step + 1)), tuple(hopeless[: step + 1]))
        return decide(_context(current, reference), settings)

    assert at(N_STEPS - 2, completed).stop  # hopeless, with a step still to save
    last = at(N_STEPS - 1, completed)
    assert not last.stop and "nothing left to save" in last.reason
    assert not at(N_STEPS + 1, completed).stop  # beyond every completed curve
    # the last step is that of the longest completed curve: three long curves keep steps 6-8 open
    shorter = [Curve(c.number, c.steps[:6], c.values[:6], c.final) for c in completed[3:]]
    longest = completed[:3]
    assert not at(6, shorter).stop
    assert at(6, shorter + longest).stop


def test_value_resolution_is_the_lattice_spacing():
    rng = np.random.default_rng(1)
    checked = 0
    for n in (7, 30, 171, 360):
        for _ in range(30):
            ks = rng.choice(n + 1, size=int(rng.integers(2, 12)), replace=True)
            values = [1.0 - (n - int(k)) / n for k in ks]  # 1 - accuracy, as computed from a score
            distinct = sorted(set(int(k) for k in ks))
            smallest = min((b - a for a in distinct for b in distinct if b > a), default=0)
            step = math.gcd(*[k - distinct[0] for k in distinct])  # brute force: the lattice step in 1/n
            if len(distinct) < 3 or smallest > 10 * step:
                assert value_resolution(values) is None, distinct
                continue
            checked += 1
            assert value_resolution(values) == pytest.approx(step / n, rel=1e-9), distinct
    assert checked >= 60
    continuous = rng.uniform(0, 1, size=50).tolist()
    assert value_resolution(continuous) is None
    assert value_resolution([0.1, 0.2, 0.3, 0.3]) == pytest.approx(0.1)
    assert value_resolution([0.1, 0.2, 0.1 + 0.1, 0.4]) == pytest.approx(0.1)  # float rounding is one value
    assert value_resolution([0.0, 0.2, 0.5]) == pytest.approx(0.1)  # gaps of 2 and 3 steps
    assert value_resolution([0.1, 0.2, 0.3, 0.35 + 1e-3]) is None  # one value off the lattice
    assert value_resolution([0.1, 0.2, 0.2]) is None  # two distinct values do not make a lattice


def _lattice_probability(loc: float, scale: float, df: float, incumbent: float, spacing: float) -> float:
    """Brute force: the predictive's mass on the lattice cells (width ``spacing``, centred on the
    lattice points) whose point is at least one step below the incumbent, summed cell by cell."""
    total, k = 0.0, 1
    while True:
        point = incumbent - k * spacing
        upper, lower = (point + spacing / 2 - loc) / scale, (point - spacing / 2 - loc) / scale
        cell = student_t.cdf(upper, df) - student_t.cdf(lower, df)
        total += cell
        if upper < -50:  # the rest of the tail in one piece
            return total + student_t.cdf(lower, df)
        k += 1


def test_lattice_correction_counts_only_finals_at_least_one_step_better():
    spacing = 1.0 / 40
    # every reference curve improved by the same amount over the second half: intercept-only model
    remaining = [0.0, -1.0, 0.0, -2.0, 1.0, -1.0]  # final - v(s), in lattice steps
    reference = []
    for number, change in enumerate(remaining):
        v3 = (10 + number) * spacing
        values = (v3 + 4 * spacing, v3 + 2 * spacing, v3 + spacing, v3)
        reference.append(Curve(number, (0, 1, 2, 3), values, v3 + change * spacing))
    incumbent = min(c.final for c in reference)
    targets = np.array(remaining, dtype=np.float64) * spacing
    n = len(targets)
    loc, scale = targets.mean(), targets.std(ddof=1) * math.sqrt(1 + 1 / n)  # least-squares prediction interval
    for offset in (-2, 0, 1, 3):
        now = incumbent + offset * spacing
        current = Curve(99, (0, 1, 2, 3), (now + 3 * spacing, now + 2 * spacing, now + spacing, now))
        plain = probability_of_beating(reference, current, 3, incumbent)
        corrected = probability_of_beating(reference, current, 3, incumbent, spacing)
        assert plain == pytest.approx(student_t.cdf((incumbent - now - loc) / scale, n - 1), rel=1e-9)
        assert corrected == pytest.approx(_lattice_probability(now + loc, scale, n - 1, incumbent, spacing), abs=1e-9)
        assert corrected < plain  # a tie no longer counts as beating
    # the decision estimates the spacing from the curves' values
    settings = EarlyStoppingSettings(policy="model", min_trials=3, threshold=0.3)
    tied = Curve(99, (0, 1, 2), (incumbent + 3 * spacing, incumbent + 2 * spacing, incumbent + spacing))
    long_reference = [Curve(c.number, c.steps + (4,), c.values + (c.final,), c.final) for c in reference]
    decision = decide(_context(tied, long_reference), settings)
    expected = probability_of_beating(long_reference, tied, 2, incumbent, spacing)
    assert decision.probability_of_improvement == pytest.approx(expected, rel=1e-9)
    assert expected < probability_of_beating(long_reference, tied, 2, incumbent)


@pytest.mark.parametrize(("policy", "first"), [("model", 1), ("median", 5), ("percentile", 5),
                                               ("successive_halving", 5), ("none", 5)])
def test_min_steps_defaults_per_policy(policy, first):
    settings = EarlyStoppingSettings(policy=policy)
    assert settings.min_steps is None and settings.first_step == first
    assert EarlyStoppingSettings(policy=policy, min_steps=3).first_step == 3
    assert EarlyStoppingSettings(policy=policy, min_steps=0).first_step == 0


def test_default_first_steps_take_effect():
    completed = _reference(np.random.default_rng(2), 8)
    hopeless = [5.0 + 1.0 / (s + 1) for s in range(N_STEPS)]

    def stops(policy: str, step: int) -> bool:
        current = Curve(99, tuple(range(step + 1)), tuple(hopeless[: step + 1]))
        return decide(_context(current, completed), EarlyStoppingSettings(policy=policy)).stop

    assert not stops("model", 0) and stops("model", 1)
    assert not stops("median", 4) and stops("median", 5)
    assert not stops("percentile", 4) and stops("percentile", 5)
