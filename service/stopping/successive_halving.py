"""Asynchronous successive halving (parity with Optuna's SuccessiveHalvingPruner, ASHA).

Rungs sit at steps ``min_resource * reduction_factor**k``. When a report takes a trial past a
rung (its previous step was below it), the trial's value there is ranked among the values of
every trial that got past that rung (its first report at or after the rung), itself included;
it continues only when it is within the best ``max(1, n // reduction_factor)``. Rungs below
``min_steps`` (``first_step``: 5 by default) are not checked.
"""

from __future__ import annotations

from service.stopping.curves import Decision, StoppingContext
from service.stopping.settings import EarlyStoppingSettings


def rungs_crossed(previous_step: int | None, step: int, settings: EarlyStoppingSettings) -> list[int]:
    """Rung steps ``r`` with ``previous_step < r <= step`` (ascending)."""
    crossed = []
    rung = settings.min_resource
    while rung <= step:
        if (previous_step is None or rung > previous_step) and rung >= settings.first_step:
            crossed.append(rung)
        rung *= settings.reduction_factor
    return crossed


def successive_halving_decision(context: StoppingContext, settings: EarlyStoppingSettings) -> Decision:
    """Stop when the trial is outside the best fraction at a rung it has just crossed."""
    value = context.current.values[-1]
    for rung in rungs_crossed(context.previous_step, context.step, settings):
        competing = [c.value_crossing(rung) for c in context.others if c.reached(rung)]
        ranked = sorted([v for v in competing if v is not None] + [value])
        kept = max(1, len(ranked) // settings.reduction_factor)
        if value > ranked[kept - 1]:
            return Decision(True, f"value {value:.6g} at rung {rung} is not within the best {kept} of {len(ranked)}")
    return Decision(False, "promoted at every rung crossed" if context.step >= settings.min_resource else
                    f"step {context.step} is below the first rung {settings.min_resource}")
