"""Suggest new trials: one serialised write transaction per call.

The study row is locked (PostgreSQL ``FOR UPDATE``; SQLite ``BEGIN IMMEDIATE``) for the whole
call, so two concurrent suggests see each other's pending trials and never hand out one point
twice. Expired leases are settled first, so only live pending trials steer the acquisition.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from service.db import Database
from service.db.models import TrialRecord
from service.db.types import utcnow
from service.observability.metrics import FIT_FAILURES, SUGGEST_SECONDS
from service.optimizers.base import get_policy
from service.studies.catalog import new_id
from service.studies.held_trials import held_trials
from service.studies.records import expire_leases, load_study, trials_in_state
from service.studies.training_data import build_request
from service.studies.views import Trial

logger = logging.getLogger(__name__)


def suggest(
    db: Database, study_id: str, *, owner: str | None = None, count: int = 1, client_id: str | None = None
) -> list[Trial]:
    """Create ``count`` pending trials chosen jointly by the study's policy.

    A ``client_id`` that still holds pending trials gets those back instead (see held_trials).
    """
    with db.write() as session:
        study = load_study(session, study_id, owner=owner, lock=True)
        now = utcnow()
        expire_leases(session, study_id, now)
        if held := held_trials(session, study_id, client_id, count):
            return [Trial.from_record(r) for r in held]
        completed = trials_in_state(session, study_id, "completed")
        pending = trials_in_state(session, study_id, "pending")
        request = build_request(study, completed, pending, count)
        started = time.perf_counter()
        suggestion = get_policy(study.surrogate).suggest(request)
        elapsed = time.perf_counter() - started
        SUGGEST_SECONDS.labels(study.surrogate).observe(elapsed)
        if "fallback" in suggestion.policy:
            FIT_FAILURES.labels(study.surrogate).inc()
            logger.warning("suggest fell back to Sobol for study=%s: %s", study_id, suggestion.info.get("fallback_reason"))
        logger.info(
            "suggest study=%s n=%d pending=%d count=%d policy=%s seconds=%.3f",
            study_id, len(completed), len(pending), count, suggestion.policy, elapsed,
        )
        params = request.space.decode_many(suggestion.X)
        lease_until = now + timedelta(seconds=study.lease_seconds)
        records = []
        for row in params:
            records.append(
                TrialRecord(
                    id=new_id(),
                    study_id=study_id,
                    number=study.next_trial_number,
                    params=row,
                    state="pending",
                    client_id=client_id,
                    source="suggested",
                    policy=suggestion.policy,
                    created_at=now,
                    lease_expires_at=lease_until,
                )
            )
            study.next_trial_number += 1
        session.add_all(records)
        session.flush()
        return [Trial.from_record(r) for r in records]
