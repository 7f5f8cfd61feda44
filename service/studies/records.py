"""Queries on study and trial records shared by the domain functions."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.db.models import StudyRecord, TrialRecord
from service.errors import NotFoundError


def load_study(session: Session, study_id: str, *, owner: str | None = None, lock: bool = False) -> StudyRecord:
    """The study record, locked for update when ``lock`` (PostgreSQL row lock; SQLite already
    holds the database write lock in a write transaction).

    Lock order: a write transaction that changes a study's trials locks the study's row first, then
    the trials (every such transaction bumps the study's version, which locks the row anyway), so two
    transactions never wait for each other's locks in a cycle on PostgreSQL.

    ``owner`` restricts the lookup to that principal's studies (None: any study, for admins); a
    study of another principal is reported as not found, so its existence is not revealed.
    Raises NotFoundError.
    """
    query = select(StudyRecord).where(StudyRecord.id == study_id)
    if owner is not None:
        query = query.where(StudyRecord.owner == owner)
    if lock:
        query = query.with_for_update()
    record = session.scalars(query).one_or_none()
    if record is None:
        raise NotFoundError(f"study '{study_id}' not found")
    return record


def load_trial(session: Session, study_id: str, trial_id: str, *, lock: bool = False) -> TrialRecord:
    """A trial of the given study (a trial of another study is 'not found')."""
    query = select(TrialRecord).where(TrialRecord.id == trial_id, TrialRecord.study_id == study_id)
    if lock:
        query = query.with_for_update()
    record = session.scalars(query).one_or_none()
    if record is None:
        raise NotFoundError(f"trial '{trial_id}' not found in study '{study_id}'")
    return record


def bump_version(session: Session, study_id: str) -> None:
    """Count a change to the study's trials (one atomic ``version = version + 1``)."""
    session.execute(
        update(StudyRecord)
        .where(StudyRecord.id == study_id)
        .values(version=StudyRecord.version + 1)
        .execution_options(synchronize_session=False)
    )


def count_change(study: StudyRecord) -> None:
    """Like :func:`bump_version` for a study row this session loaded: ``version = version + 1`` is
    emitted with the next flush, in the same UPDATE as the row's other changes (one statement less
    on the suggest and observe paths)."""
    study.version = StudyRecord.version + 1


def trial_counts(session: Session, study_ids: list[str]) -> dict[str, dict[str, int]]:
    """Trials per state for each study id."""
    if not study_ids:
        return {}
    rows = session.execute(
        select(TrialRecord.study_id, TrialRecord.state, func.count())
        .where(TrialRecord.study_id.in_(study_ids))
        .group_by(TrialRecord.study_id, TrialRecord.state)
    ).all()
    counts: dict[str, dict[str, int]] = {study_id: {} for study_id in study_ids}
    for study_id, state, count in rows:
        counts[study_id][state] = int(count)
    return counts


def trials_in_state(session: Session, study_id: str, *states: str) -> list[TrialRecord]:
    """Trials of a study in any of ``states``, in creation order."""
    return list(
        session.scalars(
            select(TrialRecord)
            .where(TrialRecord.study_id == study_id, TrialRecord.state.in_(states))
            .order_by(TrialRecord.number)
        )
    )
