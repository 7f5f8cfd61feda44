"""The one online marginal-likelihood loop (Immer et al. 2021, Algorithm 1) with callbacks.

Every epoch (or step) trains the weights at fixed hyperparameters; on the epochs the caller's
schedule says, the hyperparameters take steps on the evidence at the current weights. The loop
owns what is common to every user (the ``marglik``/``laplace``/``prune`` jobs through
:func:`bdl_core.marglik.train`, LA-NAM's :func:`bdl_core.nam.train_online_marglik` and the LLA
surrogate's :func:`bdl_core.bo.map_training.train_map`): cooperative cancellation, progress
callbacks, tracking the best evidence, early stopping and restoring the best state. What
differs between them (mini-batches or full batch, the posterior whose evidence is used) is
passed in as the ``train_epoch`` and ``update_evidence`` functions.

Hand-written because laplace-torch's ``marglik_training`` has no callbacks, cancellation or
pluggable posterior, and the service needs all three.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cancellation import TrainingCancelled


@dataclass(frozen=True)
class LoopCallbacks:
    """Hooks of :func:`run_online_marglik`.

    Attributes:
        progress: Called after every epoch as ``progress(epoch, epochs, info)``.
        should_stop: Polled before every epoch; True raises :class:`TrainingCancelled`.
    """

    progress: Callable[[int, int, dict[str, Any]], None] | None = None
    should_stop: Callable[[], bool] | None = None


@dataclass(frozen=True)
class BestState:
    """How the loop keeps the state of the best evidence.

    Attributes:
        snapshot: Returns a copy of the state (weights and hyperparameters).
        restore: Loads such a copy.
        patience: Stop after this many evidence updates without a better one (None: never).
        restore_at_end: Load the best state when the loop ends (unless it is the last one).
    """

    snapshot: Callable[[], Any]
    restore: Callable[[Any], None]
    patience: int | None = None
    restore_at_end: bool = True


@dataclass
class LoopRecord:
    """What happened in a run of :func:`run_online_marglik`.

    Attributes:
        losses: Training loss of every epoch run.
        evidence_epochs: Epochs (1-based) with an evidence update.
        evidence: The caller's value (log marginal likelihood) after each update.
        best_epoch: Epoch of the highest finite evidence (None: none yet).
        best_evidence: That value.
        stopped_early: Early stopping ended the run before ``epochs``.
        restored_best: The best state was loaded at the end.
    """

    losses: list[float] = field(default_factory=list)
    evidence_epochs: list[int] = field(default_factory=list)
    evidence: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    best_evidence: float | None = None
    stopped_early: bool = False
    restored_best: bool = False


def run_online_marglik(
    epochs: int,
    train_epoch: Callable[[int], float],
    evidence_due: Callable[[int], bool],
    update_evidence: Callable[[int], float],
    *,
    callbacks: LoopCallbacks = LoopCallbacks(),
    best: BestState | None = None,
    epoch_info: Callable[[int, float, bool], dict[str, Any]] | None = None,
    cancelled_history: Callable[[], Any] | None = None,
) -> LoopRecord:
    """Run the loop (see the module docstring).

    Args:
        epochs: Epochs (or steps) to run.
        train_epoch: ``train_epoch(epoch)`` trains the weights for one epoch at the current
            hyperparameters and returns its loss.
        evidence_due: ``evidence_due(epoch)``: whether the hyperparameters are updated after it.
        update_evidence: ``update_evidence(epoch)`` tunes the hyperparameters and returns the
            evidence after the update.
        callbacks: :class:`LoopCallbacks`.
        best: Keep, stop early on and restore the best state (None: only record the best value).
        epoch_info: ``epoch_info(epoch, loss, updated)``: the ``info`` dict passed to
            ``callbacks.progress`` (default: ``{"loss": ...}``, plus ``log_marglik`` on updates).
        cancelled_history: What :class:`TrainingCancelled` carries (default: the record).

    Returns:
        The :class:`LoopRecord`.
    """
    record = LoopRecord()
    kept: Any = None
    since_best = 0
    for epoch in range(1, epochs + 1):
        if callbacks.should_stop is not None and callbacks.should_stop():
            raise TrainingCancelled(epoch, cancelled_history() if cancelled_history is not None else record)
        record.losses.append(train_epoch(epoch))
        updated = evidence_due(epoch)
        if updated:
            value = update_evidence(epoch)
            record.evidence_epochs.append(epoch)
            record.evidence.append(value)
            if math.isfinite(value) and (record.best_evidence is None or value > record.best_evidence):
                record.best_epoch, record.best_evidence = epoch, value
                kept = best.snapshot() if best is not None else None
                since_best = 0
            else:
                since_best += 1
        if callbacks.progress is not None:
            if epoch_info is not None:
                info = epoch_info(epoch, record.losses[-1], updated)
            else:
                info = {"loss": record.losses[-1]}
                if updated:
                    info["log_marglik"] = record.evidence[-1]
            callbacks.progress(epoch, epochs, info)
        if best is not None and best.patience is not None and updated and since_best >= best.patience:
            record.stopped_early = epoch < epochs
            break
    if best is not None and best.restore_at_end and kept is not None:
        if record.best_epoch != len(record.losses):
            best.restore(kept)
        record.restored_best = True
    return record
