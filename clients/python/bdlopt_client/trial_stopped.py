"""The exception that ends an objective function whose trial was stopped early."""

from __future__ import annotations


class TrialStopped(Exception):
    """Raised by :meth:`~service.sdk.trial_handle.TrialHandle.report` when the study's policy stops the
    trial (the server has already marked it ``early_stopped``). Let it propagate out of the objective
    function: ``optimize`` records the stop and moves on. Raising it yourself ends the trial too (it is
    abandoned, since the server did not stop it).

    Attributes:
        step: the step of the report that stopped the trial (``None`` when raised by the user).
        reason: the policy's reason.
        probability_of_improvement: the ``model`` policy's probability, else ``None``.
    """

    def __init__(self, message: str = "trial stopped early", *, step: int | None = None, reason: str | None = None,
                 probability_of_improvement: float | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.reason = reason
        self.probability_of_improvement = probability_of_improvement
