"""One evaluation of the user's function, run in a worker thread or process of ``optimize``.

The result is written to the journal inside the worker, right after ``fn`` returns, so a client killed
at any later moment still has it on disk to send on the next run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from .journal import Journal, JournalEntry
from .trial_handle import TrialHandle
from .trial_stopped import TrialStopped

#: Longest failure reason sent to the server (characters).
MAX_REASON_CHARS = 500

ObjectiveFunction = Callable[[dict[str, Any]], "float | Mapping[str, float]"]


def evaluate_trial(fn: ObjectiveFunction, trial_id: str, params: dict[str, Any], names: list[str],
                   journal: Journal | None, handle: TrialHandle | None = None) -> tuple[JournalEntry, BaseException | None]:
    """``fn(params)`` (or ``fn(params, handle)``) as a result to report, and the exception of ``fn`` when it raised.

    A value that is not finite, or an exception of ``fn`` (a wrong result type included), gives a
    ``fail`` entry; a ``BaseException`` that is not an ``Exception`` (KeyboardInterrupt) propagates
    and nothing is recorded. A trial stopped early (``handle.report`` raised :class:`TrialStopped`, or
    ``fn`` returned after ``handle.should_stop()``) gives a ``stopped`` entry: the server already
    holds it as ``early_stopped`` (or it is abandoned here when ``fn`` stopped on its own), so
    nothing is journaled.
    """
    error: BaseException | None = None
    try:
        if handle is None:
            values = as_values(fn(dict(params)), names)
        else:
            try:
                result = fn(dict(params), handle)
            except TrialStopped:
                result = None
            if result is None or handle.should_stop():
                handle.record_stop()
                return JournalEntry(trial_id, "stopped"), None
            values = as_values(result, names)
    except Exception as exc:  # noqa: BLE001 - reported as the trial's failure; optimize decides to go on
        entry, error = JournalEntry(trial_id, "fail", reason=failure_reason(exc)), exc
    else:
        bad = sorted(name for name, value in values.items() if not math.isfinite(value))
        if bad:
            entry = JournalEntry(trial_id, "fail", reason=f"non-finite objective value for {bad}: {values}")
        else:
            entry = JournalEntry(trial_id, "observe", values=values)
    if journal is not None:
        journal.record(entry)
    return entry, error


def as_values(result: Any, names: list[str]) -> dict[str, float]:
    """``{objective: float}`` from ``fn``'s result: a mapping, or a number for one objective."""
    if isinstance(result, Mapping):
        return {str(key): float(value) for key, value in result.items()}
    if len(names) != 1:
        raise TypeError(f"fn must return a dict {{objective: value}} for objectives {names}, got {result!r}")
    try:
        return {names[0]: float(result)}
    except (TypeError, ValueError) as exc:
        raise TypeError(f"fn must return a number, got {result!r}") from exc


def failure_reason(exc: BaseException) -> str:
    """``"Type: message"`` cut to :data:`MAX_REASON_CHARS`."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."
