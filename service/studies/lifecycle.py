"""Trial lifecycle transitions besides observe: fail, abandon, heartbeat.

fail and abandon are idempotent: repeating one that was applied (a client retrying after a lost
answer) answers the trial as it stands instead of 409; a transition from another final state is 409.
"""

from __future__ import annotations

from datetime import timedelta

from service.db import Database
from service.db.types import utcnow
from service.errors import ConflictError
from service.studies.records import bump_version, load_study, load_trial
from service.studies.views import Trial

_OPEN = ("pending", "expired")


def fail(db: Database, study_id: str, trial_id: str, reason: str | None = None, *, owner: str | None = None) -> Trial:
    """Mark a pending or expired trial failed (the evaluation crashed or gave no value)."""
    with db.write() as session:
        load_study(session, study_id, owner=owner, lock=True)
        record = load_trial(session, study_id, trial_id, lock=True)
        if record.state == "failed" and record.fail_reason == reason:
            return Trial.from_record(record)  # a repeat of the applied call (a retry)
        if record.state not in _OPEN:
            raise ConflictError(f"trial '{trial_id}' is {record.state}; only pending or expired trials can fail")
        record.state = "failed"
        record.fail_reason = reason
        record.completed_at = utcnow()
        record.lease_expires_at = None
        session.flush()
        bump_version(session, study_id)
        return Trial.from_record(record)


def abandon(db: Database, study_id: str, trial_id: str, *, owner: str | None = None) -> Trial:
    """Give a pending or expired trial back unevaluated; it no longer counts as pending."""
    with db.write() as session:
        load_study(session, study_id, owner=owner, lock=True)
        record = load_trial(session, study_id, trial_id, lock=True)
        if record.state == "abandoned":
            return Trial.from_record(record)  # a repeat of the applied call (a retry)
        if record.state not in (*_OPEN, "queued"):
            raise ConflictError(
                f"trial '{trial_id}' is {record.state}; only pending, expired or queued trials can be abandoned"
            )
        record.state = "abandoned"
        record.completed_at = utcnow()
        record.lease_expires_at = None
        session.flush()
        bump_version(session, study_id)
        return Trial.from_record(record)


def heartbeat(db: Database, study_id: str, trial_id: str, *, owner: str | None = None) -> Trial:
    """Extend a pending trial's lease by the study's ``lease_seconds`` from now.

    A trial whose lease already ran out is expired: its slot may have been re-suggested, so the
    heartbeat is refused with ConflictError (its observation is still accepted).
    """
    with db.write() as session:
        study = load_study(session, study_id, owner=owner, lock=True)
        record = load_trial(session, study_id, trial_id, lock=True)
        now = utcnow()
        if record.state == "pending" and record.lease_expires_at is not None and record.lease_expires_at < now:
            record.state = "expired"
            bump_version(session, study_id)
            session.commit()
            raise ConflictError(f"trial '{trial_id}' lease expired; it can still be observed but not extended")
        if record.state != "pending":
            raise ConflictError(f"trial '{trial_id}' is {record.state}; only pending trials take heartbeats")
        record.lease_expires_at = now + timedelta(seconds=study.lease_seconds)
        session.flush()
        return Trial.from_record(record)
