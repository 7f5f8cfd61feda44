"""Cooperative cancellation of an online marginal-likelihood training run.

The loop (:func:`bdl_core.marglik.loop.run_online_marglik`) polls ``should_stop()`` once per
epoch; when it returns True the run raises :class:`TrainingCancelled`, which carries what was
done so far so a job runner can report it. The ``marglik``, LA-NAM and LLA trainings share it.
"""

from __future__ import annotations

from typing import Any


class TrainingCancelled(Exception):
    """Raised when ``should_stop()`` returned True.

    Args:
        epoch: The (1-based) epoch that was about to start.
        history: The caller's record of the epochs already run (for :func:`bdl_core.marglik.train`
            a :class:`~bdl_core.marglik.MarglikHistory`).

    Attributes:
        epoch: As above.
        history: As above.
    """

    def __init__(self, epoch: int, history: Any = None) -> None:
        super().__init__(f"Training cancelled before epoch {epoch}.")
        self.epoch = epoch
        self.history = history
