"""Successive halving and the percentile rule on small cases worked out by hand."""

from __future__ import annotations

from service.stopping import Curve, EarlyStoppingSettings, StoppingContext, decide
from service.stopping.successive_halving import rungs_crossed


def _curve(number, values, final=None):
    return Curve(number, tuple(range(len(values))), tuple(values), final)


def test_rungs_crossed():
    settings = EarlyStoppingSettings(policy="successive_halving", min_steps=0, min_resource=1, reduction_factor=3)
    assert rungs_crossed(None, 0, settings) == []
    assert rungs_crossed(None, 1, settings) == [1]
    assert rungs_crossed(1, 9, settings) == [3, 9]
    assert rungs_crossed(3, 8, settings) == []
    late = EarlyStoppingSettings(policy="successive_halving", min_steps=4, min_resource=1, reduction_factor=3)
    assert rungs_crossed(None, 27, late) == [9, 27]


def test_successive_halving_keeps_the_best_third_at_a_rung():
    settings = EarlyStoppingSettings(policy="successive_halving", min_steps=0, min_resource=1, reduction_factor=3)
    # values at rung 1 (each curve's report at step 1): 0.1, 0.2, 0.3, 0.4, 0.5
    others = [_curve(i, [1.0, v, v]) for i, v in enumerate([0.1, 0.2, 0.3, 0.4, 0.5])]

    def at_rung(value):
        current = _curve(9, [1.0, value])
        return decide(StoppingContext(current=current, step=1, previous_step=0, others=others), settings)

    # six values at the rung: the best 6 // 3 = 2 continue, i.e. at most the second smallest
    assert not at_rung(0.15).stop  # ranked 2nd of 0.1, 0.15, 0.2, ...
    assert at_rung(0.25).stop      # ranked 3rd
    alone = decide(StoppingContext(current=_curve(9, [1.0, 9.0]), step=1, previous_step=0, others=[]), settings)
    assert not alone.stop  # the first trial at a rung is always promoted (max(1, 1 // 3) = 1)
    between = decide(StoppingContext(current=_curve(9, [1.0, 0.9, 0.9]), step=2, previous_step=1, others=others),
                     settings)
    assert not between.stop  # no rung between steps 1 and 2


def test_percentile_rule_uses_the_best_value_so_far():
    settings = EarlyStoppingSettings(policy="percentile", percentile=25.0, min_steps=0, min_trials=4)
    completed = [_curve(i, [v, v], final=v) for i, v in enumerate([0.1, 0.2, 0.3, 0.4, 0.5])]
    # 25th percentile of 0.1..0.5 (linear interpolation) = 0.2
    improving = _curve(9, [0.15, 0.9])  # best so far 0.15 <= 0.2
    assert not decide(StoppingContext(current=improving, step=1, previous_step=0, completed=completed), settings).stop
    worse = _curve(9, [0.25, 0.21])
    assert decide(StoppingContext(current=worse, step=1, previous_step=0, completed=completed), settings).stop
    too_few = completed[:3]
    assert not decide(StoppingContext(current=worse, step=1, previous_step=0, completed=too_few), settings).stop
