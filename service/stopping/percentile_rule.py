"""The median and percentile rules (parity with Optuna's MedianPruner / PercentilePruner).

At step ``s`` the trial is stopped when its best value so far is worse than the ``q``-th
percentile (linear interpolation, numpy's default) of the values that completed trials had at
``s`` (each one's last report at or before ``s``, among those that reached ``s``). No decision
before ``min_steps`` (``first_step``) or with fewer than ``min_trials`` such completed trials.
"""

from __future__ import annotations

import numpy as np

from service.stopping.curves import Decision, StoppingContext
from service.stopping.settings import EarlyStoppingSettings


def percentile_decision(context: StoppingContext, settings: EarlyStoppingSettings, q: float) -> Decision:
    """Stop when the trial's best value so far is worse than the ``q``-th percentile at this step."""
    step = context.step
    if step < settings.first_step:
        return Decision(False, f"step {step} < min_steps {settings.first_step}")
    references = [c.value_at(step) for c in context.completed if c.reached(step)]
    values = [v for v in references if v is not None]
    if len(values) < settings.min_trials:
        return Decision(False, f"{len(values)} completed trials reached step {step}; min_trials is {settings.min_trials}")
    cutoff = float(np.percentile(np.asarray(values, dtype=np.float64), q))
    best = context.current.best_until(step)
    assert best is not None  # the current report is in the curve
    if best > cutoff:
        return Decision(True, f"best value so far {best:.6g} is worse than the {q:g}th percentile {cutoff:.6g} "
                              f"of {len(values)} completed trials at step {step}")
    return Decision(False, f"best value so far {best:.6g} is within the {q:g}th percentile {cutoff:.6g}")
