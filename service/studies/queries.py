"""Read-only queries on trials: listings and the best trial."""

from __future__ import annotations

from sqlalchemy import func, select

from service.db import Database
from service.db.models import TrialRecord
from service.db.types import utcnow
from service.errors import ConflictError, NotFoundError
from service.studies.pareto import feasible_completed, trial_view
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
        study = load_study(session, study_id, owner=owner)
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
            trial = trial_view(study, record)
            effective = _effective_state(record, now)
            if effective != trial.state:
                trial = Trial(**{**trial.__dict__, "state": effective})
            items.append(trial)
        return Page(items=items, total=int(total), limit=limit, offset=offset)


def best_trial(db: Database, study_id: str, *, owner: str | None = None) -> Trial:
    """The feasible completed trial with the best objective value (earliest on ties).

    A study with several objectives has no single best trial: ConflictError names ``/pareto``.
    """
    with db.read() as session:
        study = load_study(session, study_id, owner=owner)
        if len(study.objectives) > 1:
            raise ConflictError(
                f"study '{study_id}' has {len(study.objectives)} objectives and no single best trial; "
                f"GET /v1/studies/{study_id}/pareto gives the Pareto front"
            )
        objective = study.objectives[0]["name"]
        sign = orientation(study)
        completed = feasible_completed(session, study)
        if not completed:
            constrained = bool(study.outcome_constraints or study.parameter_constraints)
            raise NotFoundError(f"study '{study_id}' has no {'feasible ' if constrained else ''}completed trial yet")
        best = max(completed, key=lambda t: (sign * t.values[objective], -t.number))
        return trial_view(study, best)
