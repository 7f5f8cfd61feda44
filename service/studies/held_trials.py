"""Trials a client already holds: suggest with the same ``client_id`` re-offers them (as Vizier does).

A client that crashed, or whose connection broke before it read a suggest answer, asks again with its
``client_id`` and gets back its pending trials instead of new ones, so no suggested point is orphaned
with a long lease. Only live pending trials count (an expired one may already be re-suggested);
new trials are chosen only when the client holds none.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.models import TrialRecord


def held_trials(session: Session, study_id: str, client_id: str | None, count: int) -> list[TrialRecord]:
    """Up to ``count`` pending trials of ``study_id`` suggested to ``client_id``, oldest first ([] without a client id).

    Call after the study's expired leases were settled, inside the suggest transaction.
    """
    if client_id is None:
        return []
    return list(
        session.scalars(
            select(TrialRecord)
            .where(TrialRecord.study_id == study_id, TrialRecord.client_id == client_id,
                   TrialRecord.state == "pending")
            .order_by(TrialRecord.number)
            .limit(count)
        )
    )
