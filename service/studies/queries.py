"""Read-only queries on trials: listings and the best trial."""

from __future__ import annotations

from sqlalchemy import func, select

from service.db import Database
from service.db.models import TrialRecord
from service.db.types import utcnow
from service.errors import NotFoundError
from service.studies.records import load_study
from service.studies.training_data import orientation
from service.studies.views import Page, Trial


def _effective_state(record: TrialRecord, now) -> str:
    if record.state == "pending" and record.lease_expires_at is not None and record.lease_expires_at < now:
        return "expired"
    return record.state


def list_trials(
    db: Database, study_id: str, *, owner: str | None = None, state: str | None = None, limit: int = 100, offset: int = 0
) -> Page:
    """Trials of a study in creation order, optionally of one state.

    Leases are judged at read time, so a pending trial whose lease ran out is reported (and
    filtered) as expired even before the next write settles it.
    """
    now = utcnow()
    with db.read() as session:
        load_study(session, study_id, owner=owner)
        query = select(TrialRecord).where(TrialRecord.study_id == study_id)
        if state == "expired":
            query = query.where(
                (TrialRecord.state == "expired")
                | ((TrialRecord.state == "pending") & (TrialRecord.lease_expires_at < now))
            )
        elif state == "pending":
            query = query.where(TrialRecord.state == "pending", TrialRecord.lease_expires_at >= now)
        elif state is not None:
            query = query.where(TrialRecord.state == state)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        records = session.scalars(query.order_by(TrialRecord.number).limit(limit).offset(offset))
        items = []
        for record in records:
            trial = Trial.from_record(record)
            effective = _effective_state(record, now)
            if effective != trial.state:
                trial = Trial(**{**trial.__dict__, "state": effective})
            items.append(trial)
        return Page(items=items, total=int(total), limit=limit, offset=offset)


def best_trial(db: Database, study_id: str, *, owner: str | None = None) -> Trial:
    """The completed trial with the best objective value (earliest on ties)."""
    with db.read() as session:
        study = load_study(session, study_id, owner=owner)
        objective = study.objectives[0]["name"]
        sign = orientation(study)
        completed = session.scalars(
            select(TrialRecord)
            .where(TrialRecord.study_id == study_id, TrialRecord.state == "completed")
            .order_by(TrialRecord.number)
        ).all()
        if not completed:
            raise NotFoundError(f"study '{study_id}' has no completed trial yet")
        best = max(completed, key=lambda t: (sign * t.values[objective], -t.number))
        return Trial.from_record(best)
