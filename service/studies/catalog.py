"""Create, list, read and delete studies."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import replace

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from service.db import Database
from service.db.models import StudyRecord, TrialRecord
from service.db.types import utcnow
from service.errors import ConflictError
from service.studies.model_states import delete_model_states
from service.studies.pareto import pareto_front
from service.studies.records import load_study, trial_counts
from service.studies.spec import StudySpec
from service.studies.spec_match import spec_difference
from service.studies.views import Page, Study


def new_id() -> str:
    """A random 32-hex-digit identifier."""
    return uuid.uuid4().hex


def create_study(db: Database, spec: StudySpec, *, owner: str = "local", default_lease_seconds: int = 3600) -> Study:
    """Store a new study owned by ``owner``; defaults are resolved here so the record is self-contained.

    Raises ConflictError when ``owner`` already has a study of that name (names are unique per owner).
    """
    record = new_study_record(spec, owner, default_lease_seconds)
    try:
        with db.write() as session:
            session.add(record)
            session.flush()
            return Study.from_record(record)
    except IntegrityError as error:
        raise ConflictError(f"a study named '{spec.name}' already exists", field="name") from error


def create_or_load_study(db: Database, spec: StudySpec, *, owner: str = "local",
                         default_lease_seconds: int = 3600) -> tuple[Study, bool]:
    """``(study, created)``: a new study, or ``owner``'s existing study of that name when ``spec`` describes it.

    Raises ConflictError naming the difference when the existing study of that name is another one.
    """
    for _ in range(2):  # a concurrent create of the same name may win between the lookup and the insert
        with db.read() as session:
            existing = session.scalars(
                select(StudyRecord).where(StudyRecord.owner == owner, StudyRecord.name == spec.name)
            ).one_or_none()
            if existing is not None:
                difference = spec_difference(existing, spec)
                if difference is not None:
                    raise ConflictError(difference, field="name")
                return Study.from_record(existing, trial_counts(session, [existing.id])[existing.id]), False
        try:
            return create_study(db, spec, owner=owner, default_lease_seconds=default_lease_seconds), True
        except ConflictError:
            continue
    raise ConflictError(f"a study named '{spec.name}' is being created concurrently; retry", field="name")


def new_study_record(spec: StudySpec, owner: str, default_lease_seconds: int) -> StudyRecord:
    """The record of a new study: every default resolved, so the record is self-contained."""
    return StudyRecord(
        id=new_id(),
        name=spec.name,
        owner=owner,
        parameters=[p.model_dump(mode="json", exclude_none=True) for p in spec.parameters],
        objectives=[o.model_dump(mode="json") for o in spec.objectives],
        surrogate=spec.surrogate,
        surrogate_options=dict(spec.surrogate_options),
        outcome_constraints=[c.model_dump(mode="json") for c in spec.outcome_constraints],
        parameter_constraints=[c.model_dump(mode="json") for c in spec.parameter_constraints],
        early_stopping=spec.early_stopping.model_dump(mode="json") if spec.early_stopping else None,
        initial_design_size=spec.initial_design_size or spec.default_initial_design_size(),
        seed=spec.seed if spec.seed is not None else secrets.randbelow(2**31 - 1),
        lease_seconds=spec.lease_seconds or default_lease_seconds,
        next_trial_number=0,
        created_at=utcnow(),
    )


def get_study(db: Database, study_id: str, *, owner: str | None = None) -> Study:
    """One study with its trial counts, and the hypervolume of its front when it has several objectives
    (NotFoundError when absent or not ``owner``'s)."""
    with db.read() as session:
        record = load_study(session, study_id, owner=owner)
        study = Study.from_record(record, trial_counts(session, [study_id])[study_id])
    if len(study.objectives) > 1:
        study = replace(study, hypervolume=pareto_front(db, study_id, owner=owner).hypervolume)
    return study


def list_studies(db: Database, *, owner: str | None = None, limit: int = 50, offset: int = 0,
                 name: str | None = None) -> Page:
    """Studies (of ``owner``, or all when None; only those called ``name`` when given), newest first."""
    with db.read() as session:
        scope = select(StudyRecord)
        if owner is not None:
            scope = scope.where(StudyRecord.owner == owner)
        if name is not None:
            scope = scope.where(StudyRecord.name == name)
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
