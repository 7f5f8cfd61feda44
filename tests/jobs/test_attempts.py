"""Fencing, heartbeats, cancellation and the reaper, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from service.db import Database
from service.db.job_models import ArtifactRecord, JobRecord
from service.db.types import utcnow
from service.jobs import attempts, catalog
from service.jobs.attempts import ArtifactFile, AttemptStatus
from service.jobs.reaper import reap_lost_jobs
from service.jobs.registry import load_plugins
from service.jobs.spec import JobSpec
from service.errors import ConflictError
from tests.jobs.conftest import PLUGIN

STALE = timedelta(seconds=60)


@pytest.fixture(autouse=True)
def _plugin() -> None:
    load_plugins([PLUGIN])


def _submit(db: Database, max_attempts: int = 3) -> str:
    spec = JobSpec(kind="test_sleep", dataset="sklearn:wine", task="classification")
    return catalog.submit_job(db, spec, max_attempts=max_attempts).id


def _age_heartbeat(db: Database, job_id: str, seconds: float) -> None:
    with db.write() as session:
        record = session.get(JobRecord, job_id)
        record.heartbeat_at = utcnow() - timedelta(seconds=seconds)


def _record(db: Database, job_id: str) -> JobRecord:
    with db.read() as session:
        record = session.get(JobRecord, job_id)
        session.expunge(record)
        return record


def _artifact(name: str, attempt: int) -> ArtifactFile:
    return ArtifactFile(name=name, media_type="application/json", size_bytes=2, path=f"x/attempt-{attempt}/{name}")


def test_submit_stores_defaults_and_queue(job_database: Database) -> None:
    spec = JobSpec(kind="test_sleep", dataset="sklearn:wine", task="classification", device="cuda")
    job = catalog.submit_job(job_database, spec, max_attempts=2)
    assert (job.state, job.attempt, job.max_attempts, job.queue) == ("queued", 0, 2, "gpu")
    assert job.config["steps"] == 5 and job.config["seed"] == 0 and job.config["test_fraction"] == 0.2
    assert job.target == "target"


def test_claim_increments_the_attempt_and_refuses_a_duplicate_delivery(job_database: Database) -> None:
    job_id = _submit(job_database)
    first = attempts.claim(job_database, job_id, worker="w1", stale_after=STALE)
    assert first is not None and first.attempt == 1
    assert attempts.claim(job_database, job_id, worker="w2", stale_after=STALE) is None
    record = _record(job_database, job_id)
    assert (record.state, record.attempt, record.worker) == ("running", 1, "w1")


def test_a_stale_attempt_writes_nothing_after_a_take_over(job_database: Database) -> None:
    job_id = _submit(job_database)
    stale = attempts.claim(job_database, job_id, worker="w1", stale_after=STALE)
    _age_heartbeat(job_database, job_id, 120)
    fresh = attempts.claim(job_database, job_id, worker="w2", stale_after=STALE)
    assert (stale.attempt, fresh.attempt) == (1, 2)

    assert attempts.heartbeat(job_database, job_id, stale.attempt) is AttemptStatus.LOST
    assert attempts.report_progress(job_database, job_id, stale.attempt, progress=0.9, epoch=9) is AttemptStatus.LOST
    assert attempts.poll(job_database, job_id, stale.attempt) is AttemptStatus.LOST
    assert not attempts.complete(job_database, job_id, stale.attempt, {"by": "stale"}, [_artifact("a.json", 1)])
    assert not attempts.fail(job_database, job_id, stale.attempt, "stale failure")
    record = _record(job_database, job_id)
    assert (record.state, record.progress, record.epoch, record.result, record.error) == ("running", 0.0, None, None,
                                                                                            None)

    assert attempts.report_progress(job_database, job_id, fresh.attempt, progress=0.5, epoch=3) is AttemptStatus.OK
    assert attempts.complete(job_database, job_id, fresh.attempt, {"by": "fresh"}, [_artifact("a.json", 2)])
    assert not attempts.complete(job_database, job_id, fresh.attempt, {"by": "again"}, [_artifact("b.json", 2)])
    record = _record(job_database, job_id)
    assert (record.state, record.result, record.progress) == ("succeeded", {"by": "fresh"}, 1.0)
    with job_database.read() as session:
        stored = session.execute(select(ArtifactRecord.name, ArtifactRecord.attempt)
                                 .where(ArtifactRecord.job_id == job_id)).all()
    assert [tuple(row) for row in stored] == [("a.json", 2)]


def test_concurrent_claims_of_one_job_have_exactly_one_winner(job_database: Database) -> None:
    job_id = _submit(job_database)
    barrier = threading.Barrier(4)
    claims = []

    def claim(index: int) -> None:
        barrier.wait()
        claims.append(attempts.claim(job_database, job_id, worker=f"w{index}", stale_after=STALE))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [c for c in claims if c is not None]
    assert len(claims) == 4 and len(winners) == 1 and winners[0].attempt == 1
    assert _record(job_database, job_id).attempt == 1


def test_a_take_over_past_max_attempts_fails_the_job(job_database: Database) -> None:
    job_id = _submit(job_database, max_attempts=1)
    assert attempts.claim(job_database, job_id, worker="w1", stale_after=STALE).attempt == 1
    _age_heartbeat(job_database, job_id, 120)
    assert attempts.claim(job_database, job_id, worker="w2", stale_after=STALE) is None
    record = _record(job_database, job_id)
    assert record.state == "failed" and "max_attempts" in record.error and record.attempt == 1


def test_cancel_a_queued_job_at_once_and_a_running_one_cooperatively(job_database: Database) -> None:
    queued = _submit(job_database)
    assert catalog.cancel_job(job_database, queued).state == "cancelled"
    assert attempts.claim(job_database, queued, worker="w", stale_after=STALE) is None
    with pytest.raises(ConflictError):
        catalog.cancel_job(job_database, queued)

    running = _submit(job_database)
    claim = attempts.claim(job_database, running, worker="w", stale_after=STALE)
    job = catalog.cancel_job(job_database, running)
    assert (job.state, job.cancel_requested) == ("running", True)
    assert attempts.heartbeat(job_database, running, claim.attempt) is AttemptStatus.CANCEL
    assert attempts.poll(job_database, running, claim.attempt) is AttemptStatus.CANCEL
    assert attempts.finish_cancelled(job_database, running, claim.attempt)
    assert _record(job_database, running).state == "cancelled"


def test_release_returns_the_job_to_the_queue_for_a_new_attempt(job_database: Database) -> None:
    job_id = _submit(job_database)
    first = attempts.claim(job_database, job_id, worker="w1", stale_after=STALE)
    assert attempts.release(job_database, job_id, first.attempt, "shutdown")
    assert _record(job_database, job_id).state == "queued"
    assert attempts.claim(job_database, job_id, worker="w2", stale_after=STALE).attempt == 2


def test_reaper_requeues_lost_jobs_until_max_attempts_then_fails_them(job_database: Database) -> None:
    job_id = _submit(job_database, max_attempts=2)
    alive = _submit(job_database)
    attempts.claim(job_database, alive, worker="alive", stale_after=STALE)
    for attempt in (1, 2):
        claim = attempts.claim(job_database, job_id, worker=f"w{attempt}", stale_after=STALE)
        assert claim.attempt == attempt
        _age_heartbeat(job_database, job_id, 120)
        report = reap_lost_jobs(job_database, timeout=STALE)
        assert alive not in [j for j, _ in report.requeued] + report.failed
        if attempt == 1:
            assert report.requeued == [(job_id, "cpu")] and report.failed == []
            record = _record(job_database, job_id)
            assert record.state == "queued" and "requeued after attempt 1" in record.message
        else:
            assert report.requeued == [] and report.failed == [job_id]
    record = _record(job_database, job_id)
    assert record.state == "failed" and "no heartbeat" in record.error and "attempt 2 of 2" in record.error
    assert reap_lost_jobs(job_database, timeout=STALE).failed == []
    assert _record(job_database, alive).state == "running"


def test_reaper_cancels_a_lost_job_with_a_pending_cancellation_and_fails_one_past_the_time_limit(
        job_database: Database) -> None:
    cancelled = _submit(job_database)
    timed_out = _submit(job_database)
    for job_id in (cancelled, timed_out):
        attempts.claim(job_database, job_id, worker="w", stale_after=STALE)
    catalog.cancel_job(job_database, cancelled)
    with job_database.write() as session:
        for job_id in (cancelled, timed_out):
            record = session.get(JobRecord, job_id)
            record.heartbeat_at = utcnow() - timedelta(seconds=120)
            record.started_at = utcnow() - timedelta(hours=2)
    report = reap_lost_jobs(job_database, timeout=STALE, time_limit=timedelta(hours=1))
    assert report.cancelled == [cancelled] and report.failed == [timed_out] and report.requeued == []
    assert "time limit" in _record(job_database, timed_out).error
