"""Intermediate values of a trial, and the early-stopping decision each one gets.

A report runs in three steps, so that no model is fitted inside a database transaction:

1. **Store** (write transaction): the trial must be pending (409 otherwise), the step greater
   than its last reported step (422), the values finite and named after the study's
   objectives (422). The report is stored, and the curves the study's policy decides from are
   read: every trial's reports, and the completed trials' final values.
2. **Decide** (no transaction): :func:`service.stopping.decide` on those curves.
3. **Stop** (write transaction, only when the decision is to stop): the trial becomes
   ``early_stopped`` at once, with its last reported values as ``values``; nothing changes if
   it left ``pending`` or took a later report meanwhile.

How the surrogate uses an early-stopped trial: as an observation of its last reported value
(``suggest`` trains on completed and early-stopped trials). For a curve that improves with
steps this is a pessimistic (lower-fidelity) value at a point the policy judged unpromising,
which steers the acquisition away from it, as Optuna's TPE does with pruned trials. It is never
the study's best (``best`` reads completed trials only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy import select

from service.db import Database
from service.db.models import StudyRecord, TrialRecord, TrialReportRecord
from service.db.types import utcnow
from service.stopping import Curve, Decision, EarlyStoppingSettings, StoppingContext, decide
from service.errors import ConflictError, InvalidInputError
from service.studies.observe import check_values
from service.studies.records import bump_version, load_study, load_trial
from service.studies.training_data import orientation
from service.studies.views import Trial

_CURVE_STATES = ("pending", "expired", "completed", "early_stopped")


@dataclass(frozen=True)
class ReportOutcome:
    """The trial after the report, and the policy's decision."""

    trial: Trial
    decision: Decision


def report(
    db: Database, study_id: str, trial_id: str, *, step: int, values: Mapping[str, Any], owner: str | None = None
) -> ReportOutcome:
    """Store an intermediate value of a pending trial and apply the study's stopping policy."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise InvalidInputError(f"step: must be an integer >= 0, got {step!r}", field="step")
    with db.write() as session:
        study = load_study(session, study_id, owner=owner)
        record = load_trial(session, study_id, trial_id, lock=True)
        if record.state != "pending":
            raise ConflictError(f"trial '{trial_id}' is {record.state}; only pending trials take reports")
        clean = check_values(study, values, "values", allow_missing=False)
        if record.reports and step <= record.reports[-1].step:
            raise InvalidInputError(
                f"step: must be greater than the trial's last reported step {record.reports[-1].step}, got {step}",
                field="step",
            )
        record.reports.append(TrialReportRecord(step=step, study_id=study_id, values=clean, created_at=utcnow()))
        session.flush()
        settings = EarlyStoppingSettings.model_validate(study.early_stopping or {})
        context = _context(session, study, record, step) if settings.active else None
        trial = Trial.from_record(record)
    if context is None:
        return ReportOutcome(trial, Decision(False, "early stopping is off for this study"))
    decision = decide(context, settings)
    if decision.stop:
        trial = _stop(db, study_id, trial_id, step) or trial
    return ReportOutcome(trial, decision)


def _context(session, study: StudyRecord, record: TrialRecord, step: int) -> StoppingContext:
    """The curves of the study's trials (oriented: lower is better) around the reporting trial."""
    objective = study.objectives[0]["name"]
    sign = -orientation(study)  # minimise: +1, maximise: -1
    trials = {
        t.id: t for t in session.scalars(
            select(TrialRecord).where(TrialRecord.study_id == study.id, TrialRecord.state.in_(_CURVE_STATES))
        )
    }
    points: dict[str, list[tuple[int, float]]] = {}
    for row in session.scalars(
        select(TrialReportRecord).where(TrialReportRecord.study_id == study.id).order_by(TrialReportRecord.step)
    ):
        if row.trial_id in trials and objective in row.values:
            points.setdefault(row.trial_id, []).append((row.step, sign * float(row.values[objective])))

    def curve(t: TrialRecord) -> Curve:
        steps = tuple(s for s, _ in points.get(t.id, []))
        finals = sign * float(t.values[objective]) if t.state == "completed" and t.values else None
        return Curve(t.number, steps, tuple(v for _, v in points.get(t.id, [])), finals)

    current = curve(record)
    completed = [curve(t) for t in trials.values() if t.state == "completed"]
    finals = [c.final for c in completed if c.final is not None]
    return StoppingContext(
        current=current,
        step=step,
        previous_step=current.steps[-2] if len(current.steps) > 1 else None,
        completed=[c for c in completed if c.steps],
        others=[curve(t) for t in trials.values() if t.id != record.id and t.id in points],
        incumbent=min(finals) if finals else None,
    )


def _stop(db: Database, study_id: str, trial_id: str, step: int) -> Trial | None:
    """Mark the trial early-stopped with its last values; None when it moved on meanwhile."""
    with db.write() as session:
        load_study(session, study_id, lock=True)
        record = load_trial(session, study_id, trial_id, lock=True)
        if record.state != "pending" or not record.reports or record.reports[-1].step != step:
            return None
        record.state = "early_stopped"
        record.values = dict(record.reports[-1].values)
        record.completed_at = utcnow()
        record.lease_expires_at = None
        session.flush()
        bump_version(session, study_id)
        return Trial.from_record(record)
