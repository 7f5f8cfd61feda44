"""The server's answer to an intermediate value (``POST .../trials/{id}/report``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .models import Trial


class ReportResult(BaseModel):
    """Whether the study's early-stopping policy stopped the trial.

    Attributes:
        stop: the trial is now ``early_stopped``; stop evaluating it.
        probability_of_improvement: the ``model`` policy's probability that the trial's final value
            beats the best completed trial (``None`` for the rule-based policies or when undecided).
        reason: why, in words.
        trial: the trial after the report (with its ``intermediate_values``).
    """

    model_config = ConfigDict(extra="allow")

    stop: bool
    probability_of_improvement: float | None = None
    reason: str = ""
    trial: Trial
