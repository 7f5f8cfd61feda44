"""Cooperative cancellation of a marginal-likelihood training run.

``train(..., should_stop=fn)`` calls ``fn()`` once per epoch; when it returns True the
run raises :class:`TrainingCancelled`, which carries what was done so far so a job
runner can report it.
"""

from __future__ import annotations

from .history import MarglikHistory


class TrainingCancelled(Exception):
    """Raised by :func:`bdl_core.marglik.train` when ``should_stop()`` returned True.

    Args:
        epoch: The (1-based) epoch that was about to start.
        history: The :class:`MarglikHistory` of the epochs already run.

    Attributes:
        epoch: As above.
        history: As above.
    """

    def __init__(self, epoch: int, history: MarglikHistory) -> None:
        super().__init__(f"Training cancelled before epoch {epoch}.")
        self.epoch = epoch
        self.history = history
