"""Worker-side job transitions, fenced by the attempt number.

``claim`` increments ``attempt`` in a write transaction (row lock on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite) and hands the new number to the worker. Every later write of that attempt
(heartbeat, progress, result, failure, cancellation) is an ``UPDATE ... WHERE id = :id AND
attempt = :attempt AND state = 'running'``: when another attempt has taken the job over, or the
job finished, the write matches no row and changes nothing. A stale or duplicated delivery
therefore never writes a second result.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from service.db import Database
from service.db.job_models import ArtifactRecord, JobRecord
from service.db.types import utcnow


class AttemptStatus(enum.Enum):
    """What a fenced write learned about the attempt."""

    OK = "ok"  #: the attempt still owns the job
    CANCEL = "cancel"  #: it owns the job, and the client asked to cancel it
    LOST = "lost"  #: another attempt owns the job, or it finished: stop and write nothing


@dataclass(frozen=True)
class Claim:
    """A won claim: the attempt number (fencing token) and what to run."""

    job_id: str
    attempt: int
    kind: str
    dataset: str
    target: str | None
    task: str
    model: dict[str, Any] | None
    config: dict[str, Any]
    device: str


@dataclass(frozen=True)
class ArtifactFile:
    """A file an attempt wrote, to be recorded with its result (``path`` relative to the artifacts dir)."""

    name: str
    media_type: str
    size_bytes: int
    path: str


def claim(db: Database, job_id: str, *, worker: str, stale_after: timedelta, now: datetime | None = None) -> Claim | None:
    """Start a new attempt of a queued job, or take over a running one whose heartbeat stopped.

    Returns ``None`` (the delivery is dropped) when the job does not exist, finished, or is
    running with a live heartbeat (a duplicate delivery). A take-over or claim past
    ``max_attempts`` marks the job failed; a claim of a job with a pending cancellation marks it
    cancelled.
    """
    now = now or utcnow()
    with db.write() as session:
        record = session.scalars(select(JobRecord).where(JobRecord.id == job_id).with_for_update()).one_or_none()
        if record is None:
            return None
        if record.state == "running":
            if record.heartbeat_at is not None and record.heartbeat_at >= now - stale_after:
                return None
        elif record.state != "queued":
            return None
        if record.cancel_requested:
            record.state, record.finished_at, record.message = "cancelled", now, "cancelled"
            return None
        if record.attempt >= record.max_attempts:
            record.state, record.finished_at = "failed", now
            record.error = (f"worker lost on attempt {record.attempt} of {record.max_attempts} "
                            f"({record.worker or 'unknown worker'}); giving up after max_attempts")
            return None
        record.attempt += 1
        record.state = "running"
        record.worker = worker
        record.heartbeat_at = now
        record.started_at = now
        record.progress, record.epoch, record.log_marglik = 0.0, None, None
        record.message = f"attempt {record.attempt} of {record.max_attempts} started on {worker}"
        session.flush()
        return Claim(job_id=record.id, attempt=record.attempt, kind=record.kind, dataset=record.dataset,
                     target=record.target, task=record.task, model=record.model, config=dict(record.config),
                     device=record.device)


def _owned(job_id: str, attempt: int):
    return (JobRecord.id == job_id, JobRecord.attempt == attempt, JobRecord.state == "running")


def _status_after_write(session, job_id: str, matched: int) -> AttemptStatus:
    if not matched:
        return AttemptStatus.LOST
    cancel = session.scalar(select(JobRecord.cancel_requested).where(JobRecord.id == job_id))
    return AttemptStatus.CANCEL if cancel else AttemptStatus.OK


def heartbeat(db: Database, job_id: str, attempt: int, *, now: datetime | None = None) -> AttemptStatus:
    """Record that the attempt's worker is alive."""
    with db.write() as session:
        result = session.execute(
            update(JobRecord).where(*_owned(job_id, attempt)).values(heartbeat_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        return _status_after_write(session, job_id, result.rowcount)


def report_progress(db: Database, job_id: str, attempt: int, *, progress: float, message: str | None = None,
                    epoch: int | None = None, log_marglik: float | None = None) -> AttemptStatus:
    """Store the attempt's progress (fraction in [0, 1]); also counts as a heartbeat."""
    values: dict[str, Any] = {"progress": min(max(float(progress), 0.0), 1.0), "heartbeat_at": utcnow()}
    if message is not None:
        values["message"] = message[:2000]
    if epoch is not None:
        values["epoch"] = int(epoch)
    if log_marglik is not None:
        values["log_marglik"] = float(log_marglik)
    with db.write() as session:
        result = session.execute(
            update(JobRecord).where(*_owned(job_id, attempt)).values(**values)
            .execution_options(synchronize_session=False)
        )
        return _status_after_write(session, job_id, result.rowcount)


def poll(db: Database, job_id: str, attempt: int) -> AttemptStatus:
    """Read-only check whether the attempt still owns the job and whether cancellation was asked."""
    with db.read() as session:
        row = session.execute(
            select(JobRecord.attempt, JobRecord.state, JobRecord.cancel_requested).where(JobRecord.id == job_id)
        ).one_or_none()
    if row is None or row[0] != attempt or row[1] != "running":
        return AttemptStatus.LOST
    return AttemptStatus.CANCEL if row[2] else AttemptStatus.OK


def complete(db: Database, job_id: str, attempt: int, result: dict[str, Any],
             artifacts: list[ArtifactFile] = ()) -> bool:
    """Store the attempt's result and artifacts and mark the job succeeded; False when fenced out."""
    with db.write() as session:
        record = session.scalars(select(JobRecord).where(*_owned(job_id, attempt)).with_for_update()).one_or_none()
        if record is None:
            return False
        now = utcnow()
        record.state, record.result, record.progress = "succeeded", result, 1.0
        record.message, record.finished_at, record.heartbeat_at = "succeeded", now, now
        for artifact in artifacts:
            session.add(ArtifactRecord(job_id=job_id, name=artifact.name, attempt=attempt,
                                       media_type=artifact.media_type, size_bytes=artifact.size_bytes,
                                       path=artifact.path, created_at=now))
        return True


def fail(db: Database, job_id: str, attempt: int, error: str) -> bool:
    """Mark the job failed by its running attempt (the run raised); False when fenced out."""
    now = utcnow()
    return _finish(db, job_id, attempt, state="failed", error=error[:10_000], message="failed", finished_at=now,
                   heartbeat_at=now)


def finish_cancelled(db: Database, job_id: str, attempt: int) -> bool:
    """Mark the job cancelled by its running attempt (it stopped at a cancellation check)."""
    now = utcnow()
    return _finish(db, job_id, attempt, state="cancelled", message="cancelled while running", finished_at=now,
                   heartbeat_at=now)


def release(db: Database, job_id: str, attempt: int, reason: str) -> bool:
    """Give the job back to the queue (its worker shuts down); the next claim starts a new attempt."""
    return _finish(db, job_id, attempt, state="queued", worker=None, message=f"requeued: {reason}")


def _finish(db: Database, job_id: str, attempt: int, **values: Any) -> bool:
    with db.write() as session:
        result = session.execute(
            update(JobRecord).where(*_owned(job_id, attempt)).values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)
