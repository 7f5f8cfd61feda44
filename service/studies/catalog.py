"""Create, list, read and delete studies."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import delete, func, select

from service.db import Database
from service.db.models import StudyRecord, TrialRecord
from service.db.types import utcnow
from service.studies.model_states import delete_model_states
from service.studies.records import load_study, trial_counts
from service.studies.spec import StudySpec
from service.studies.views import Page, Study


def new_id() -> str:
    """A random 32-hex-digit identifier."""
    return uuid.uuid4().hex


def create_study(db: Database, spec: StudySpec, *, owner: str = "local", default_lease_seconds: int = 3600) -> Study:
    """Store a new study owned by ``owner``; defaults are resolved here so the record is self-contained."""
    record = StudyRecord(
        id=new_id(),
        name=spec.name,
        owner=owner,
        parameters=[p.model_dump(mode="json", exclude_none=True) for p in spec.parameters],
        objectives=[o.model_dump(mode="json") for o in spec.objectives],
        surrogate=spec.surrogate,
        surrogate_options=dict(spec.surrogate_options),
        initial_design_size=spec.initial_design_size or spec.default_initial_design_size(),
        seed=spec.seed if spec.seed is not None else secrets.randbelow(2**31 - 1),
        lease_seconds=spec.lease_seconds or default_lease_seconds,
        next_trial_number=0,
        created_at=utcnow(),
    )
    with db.write() as session:
        session.add(record)
        session.flush()
        return Study.from_record(record)


def get_study(db: Database, study_id: str, *, owner: str | None = None) -> Study:
    """One study with its trial counts (NotFoundError when absent or not ``owner``'s)."""
    with db.read() as session:
        record = load_study(session, study_id, owner=owner)
        return Study.from_record(record, trial_counts(session, [study_id])[study_id])


def list_studies(db: Database, *, owner: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Studies (of ``owner``, or all when None), newest first."""
    with db.read() as session:
        scope = select(StudyRecord)
        if owner is not None:
            scope = scope.where(StudyRecord.owner == owner)
        total = session.scalar(select(func.count()).select_from(scope.subquery())) or 0
        records = list(
            session.scalars(
                scope
                .order_by(StudyRecord.created_at.desc(), StudyRecord.id)
                .limit(limit)
                .offset(offset)
            )
        )
        counts = trial_counts(session, [r.id for r in records])
        items = [Study.from_record(r, counts[r.id]) for r in records]
        return Page(items=items, total=int(total), limit=limit, offset=offset)


def delete_study(db: Database, study_id: str, *, owner: str | None = None) -> None:
    """Delete a study and all its trials (NotFoundError when absent or not ``owner``'s)."""
    with db.write() as session:
        load_study(session, study_id, owner=owner, lock=True)
        delete_model_states(session, study_id)
        session.execute(delete(TrialRecord).where(TrialRecord.study_id == study_id))
        session.execute(delete(StudyRecord).where(StudyRecord.id == study_id))
