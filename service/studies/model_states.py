"""The surrogates' fitted state per study, kept in the study database (``model_states``).

Every API process reads the same state, so a study's suggestions do not depend on which
process answers, survive restarts, and go away with the study (foreign key with cascade).
Reads and writes are single-row statements inside the caller's short transactions.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.db.models import ModelStateRecord
from service.db.types import utcnow
from service.optimizers import SurrogateState
from service.optimizers.surrogate_state import digest_bytes

logger = logging.getLogger(__name__)


def load_model_state(session: Session, study_id: str, surrogate: str) -> SurrogateState | None:
    """The stored state of ``surrogate`` for a study, or None (none yet, or unreadable)."""
    record = session.get(ModelStateRecord, (study_id, surrogate))
    if record is None:
        return None
    try:
        return SurrogateState.from_bytes(record.payload)
    except ValueError as error:  # a corrupt row must not stop suggestions: start cold
        logger.warning("ignoring unreadable model state of study=%s surrogate=%s: %s", study_id, surrogate, error)
        return None


def save_model_state(session: Session, study_id: str, surrogate: str, state: SurrogateState, data_version: int) -> None:
    """Insert or replace the state of ``surrogate`` for a study (no-op when unchanged)."""
    record = session.get(ModelStateRecord, (study_id, surrogate))
    payload = state.to_bytes()
    digest = digest_bytes(payload)
    if record is not None and record.digest == digest:
        return
    if record is None:
        record = ModelStateRecord(study_id=study_id, surrogate=surrogate)
        session.add(record)
    record.kind = state.kind
    record.fingerprint = state.fingerprint
    record.data_version = data_version
    record.digest = digest
    record.payload = payload
    record.updated_at = utcnow()


def delete_model_states(session: Session, study_id: str) -> None:
    """Forget every surrogate state of a study."""
    session.execute(delete(ModelStateRecord).where(ModelStateRecord.study_id == study_id))


def stored_states(session: Session, study_id: str) -> list[tuple[str, str, int]]:
    """(surrogate, fingerprint, data_version) of every state stored for a study."""
    rows = session.execute(
        select(ModelStateRecord.surrogate, ModelStateRecord.fingerprint, ModelStateRecord.data_version)
        .where(ModelStateRecord.study_id == study_id)
        .order_by(ModelStateRecord.surrogate)
    ).all()
    return [(r[0], r[1], int(r[2])) for r in rows]

