"""Trials a client already holds: suggest with the same ``client_id`` re-offers them (as Vizier does).

A client that crashed, or whose connection broke before it read a suggest answer, asks again with its
``client_id`` and gets back its pending trials instead of new ones, so no suggested point is orphaned
with a long lease. Only live pending trials count (an expired one may already be re-suggested);
new trials are chosen only when the client holds none.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.models import TrialRecord


def held_trials(session: Session, study_id: str, client_id: str | None, count: int,
                now: datetime) -> list[TrialRecord]:
    """Up to ``count`` live pending trials of ``study_id`` suggested to ``client_id``, oldest first
    ([] without a client id); a trial whose lease ran out before ``now`` is not held any more."""
    if client_id is None:
        return []
    return list(
        session.scalars(
            select(TrialRecord)
            .where(TrialRecord.study_id == study_id, TrialRecord.client_id == client_id,
                   TrialRecord.state == "pending", TrialRecord.lease_expires_at >= now)
            .order_by(TrialRecord.number)
            .limit(count)
        )
    )
