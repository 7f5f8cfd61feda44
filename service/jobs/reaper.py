"""The reaper: recovers jobs whose worker stopped heartbeating.

A running job whose last heartbeat is older than the timeout lost its worker (killed, out of
memory, node gone). The reaper requeues it while attempts remain (the caller dispatches the id
again), marks it failed with the reason once ``max_attempts`` attempts were lost, and marks it
cancelled when the client had asked to cancel it. Each transition is a compare-and-set on the
attempt number and the stale heartbeat, so several reapers (one per API replica) and a worker's
late heartbeat never double-handle a job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from service.db import Database
from service.db.job_models import JobRecord
from service.db.types import utcnow


@dataclass
class ReapReport:
    """What one reaper pass did: ``requeued`` holds ``(job_id, queue)`` pairs to dispatch again."""

    requeued: list[tuple[str, str]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)


def reap_lost_jobs(db: Database, *, timeout: timedelta, time_limit: timedelta | None = None,
                   now: datetime | None = None) -> ReapReport:
    """One pass over running jobs with a heartbeat older than ``now - timeout``.

    Args:
        db: the job database.
        timeout: heartbeat age after which a worker counts as lost.
        time_limit: the hard time limit of an attempt (Celery kills the process after it): a lost
            attempt that started longer ago than this is failed instead of requeued, since the
            next attempt would be killed the same way.
        now: the current time (tests).
    """
    now = now or utcnow()
    cutoff = now - timeout
    report = ReapReport()
    with db.read() as session:
        stale = session.execute(
            select(JobRecord.id, JobRecord.attempt, JobRecord.max_attempts, JobRecord.cancel_requested,
                   JobRecord.queue, JobRecord.worker, JobRecord.started_at)
            .where(JobRecord.state == "running", JobRecord.heartbeat_at < cutoff)
        ).all()
    for job_id, attempt, max_attempts, cancel_requested, queue, worker, started_at in stale:
        lost = f"worker {worker or 'unknown'} lost: no heartbeat for {timeout.total_seconds():g} s"
        if cancel_requested:
            values = {"state": "cancelled", "finished_at": now, "message": f"cancelled; {lost}"}
        elif time_limit is not None and started_at is not None and started_at < now - time_limit:
            values = {"state": "failed", "finished_at": now, "message": "failed",
                      "error": f"{lost}; attempt {attempt} ran past the time limit of "
                               f"{time_limit.total_seconds():g} s"}
        elif attempt >= max_attempts:
            values = {"state": "failed", "finished_at": now, "message": "failed",
                      "error": f"{lost} on attempt {attempt} of {max_attempts}; giving up after max_attempts"}
        else:
            values = {"state": "queued", "worker": None, "message": f"requeued after attempt {attempt}: {lost}"}
        with db.write() as session:
            changed = session.execute(
                update(JobRecord)
                .where(JobRecord.id == job_id, JobRecord.attempt == attempt, JobRecord.state == "running",
                       JobRecord.heartbeat_at < cutoff)
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount
        if not changed:
            continue
        if values["state"] == "queued":
            report.requeued.append((job_id, queue))
        elif values["state"] == "failed":
            report.failed.append(job_id)
        else:
            report.cancelled.append(job_id)
    return report
