"""Learning curves as the stopping policies see them: steps and values, lower is better."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Curve:
    """One trial's intermediate values, oriented so that lower is better.

    ``final`` is the observed final value of a completed trial (oriented), ``None`` otherwise.
    """

    number: int
    steps: tuple[int, ...]
    values: tuple[float, ...]
    final: float | None = None

    def reached(self, step: int) -> bool:
        """Whether the trial reported at ``step`` or later."""
        return bool(self.steps) and self.steps[-1] >= step

    def value_at(self, step: int) -> float | None:
        """The last value reported at or before ``step`` (``None`` when none was)."""
        index = bisect.bisect_right(self.steps, step)
        return self.values[index - 1] if index else None

    def value_crossing(self, step: int) -> float | None:
        """The value of the first report at or after ``step`` (``None`` when none was)."""
        index = bisect.bisect_left(self.steps, step)
        return self.values[index] if index < len(self.steps) else None

    def best_until(self, step: int) -> float | None:
        """The lowest value reported at or before ``step``."""
        index = bisect.bisect_right(self.steps, step)
        return min(self.values[:index]) if index else None


@dataclass(frozen=True)
class StoppingContext:
    """What a policy decides from: the reporting trial and the study's other curves.

    ``completed``: curves of completed trials (with ``final``); ``others``: every other trial's
    curve whatever its state (successive halving ranks all trials that reached a rung);
    ``incumbent``: the best final value of any completed trial (oriented), ``None`` when none.
    """

    current: Curve
    step: int
    previous_step: int | None
    completed: list[Curve] = field(default_factory=list)
    others: list[Curve] = field(default_factory=list)
    incumbent: float | None = None


@dataclass(frozen=True)
class Decision:
    """A policy's answer to one report."""

    stop: bool
    reason: str
    probability_of_improvement: float | None = None
