"""The trial handle an objective function ``fn(params, trial)`` receives from ``optimize``.

``trial.report(step, value)`` sends an intermediate value; when the study's early-stopping policy
stops the trial it raises :class:`~service.sdk.trial_stopped.TrialStopped` (or, with
``raise_stopped=False``, returns and :meth:`TrialHandle.should_stop` turns true). Either way the
trial is already ``early_stopped`` on the server: ``optimize`` records it, it is not failed.

:func:`run_objective` is the one hook ``optimize`` calls: functions of one argument ``fn(params)``
are called as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .models import Trial
from .report_result import ReportResult
from .trial_stopped import TrialStopped

if TYPE_CHECKING:
    from .client import Client


class TrialHandle:
    """One running trial: its params, and :meth:`report` / :meth:`should_stop` for early stopping."""

    def __init__(self, client: Client, study_id: str, trial: Trial) -> None:
        self.client = client
        self.study_id = study_id
        self.trial = trial
        self.last_report: ReportResult | None = None

    @property
    def id(self) -> str:
        """The trial's id."""
        return self.trial.id

    @property
    def number(self) -> int | None:
        """The trial's number in its study."""
        return self.trial.number

    @property
    def params(self) -> dict[str, Any]:
        """The trial's parameters."""
        return dict(self.trial.params)

    def report(self, step: int, value: float | Mapping[str, float], *, raise_stopped: bool = True) -> ReportResult:
        """Send the objective value(s) at ``step`` (strictly increasing); the server's decision.

        Raises:
            TrialStopped: the policy stopped the trial (``raise_stopped``), or it was stopped before.
        """
        if self.should_stop():
            raise TrialStopped(f"trial {self.id} was already stopped", step=step, reason=self.last_report.reason)
        result = self.client.report(self.study_id, self.id, step, value)
        self.last_report = result
        self.trial = result.trial
        if result.stop and raise_stopped:
            raise TrialStopped(f"trial {self.id} stopped at step {step}: {result.reason}", step=step,
                               reason=result.reason, probability_of_improvement=result.probability_of_improvement)
        return result

    def should_stop(self) -> bool:
        """Whether the study's policy stopped the trial at the last report."""
        return self.last_report is not None and self.last_report.stop

    def record_stop(self) -> Trial:
        """The trial as the stop leaves it: ``early_stopped`` when the server stopped it, else abandoned
        (the function raised :class:`TrialStopped` on its own)."""
        if self.should_stop():
            return self.trial
        return self.client.abandon(self.study_id, self.id)


def accepts_trial(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` can be called as ``fn(params, trial)``."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: called with params only
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


def run_objective(fn: Callable[..., Any], client: Client, study_id: str, trial: Trial) -> tuple[Any, Trial | None]:
    """``(fn's result, None)``, or ``(None, the stopped trial)`` when the trial was stopped early."""
    if not accepts_trial(fn):
        return fn(dict(trial.params)), None
    handle = TrialHandle(client, study_id, trial)
    try:
        result = fn(dict(trial.params), handle)
    except TrialStopped:
        return None, handle.record_stop()
    if handle.should_stop():  # fn returned on should_stop() instead of raising
        return None, handle.record_stop()
    return result, None
