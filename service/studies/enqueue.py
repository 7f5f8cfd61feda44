"""Enqueue a point to evaluate: a ``queued`` trial the next suggest hands out before asking the model.

Like Optuna's ``enqueue_trial`` and Vizier's requested trials. The trial gets its number now
(so a suggest that snapshotted before starts over, see ``suggest``); until a suggest claims it
(``queued`` -> ``pending``, with a lease) it counts as pending for the model, never expires, can
be abandoned, and can be observed directly like a pending trial.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.db import Database
from service.db.models import TrialRecord
from service.db.types import utcnow
from service.studies.catalog import new_id
from service.studies.records import bump_version, load_study
from service.studies.training_data import checked_params, search_space
from service.studies.views import Trial


def enqueue(db: Database, study_id: str, params: Mapping[str, Any], *, owner: str | None = None) -> Trial:
    """Create a queued trial at ``params`` (exactly the active parameters; fixed ones may be omitted).

    Raises:
        InvalidInputError: ``params`` does not fit the space (nothing is written).
        NotFoundError: no such study.
    """
    with db.write() as session:
        study = load_study(session, study_id, owner=owner, lock=True)
        record = TrialRecord(
            id=new_id(), study_id=study_id, number=study.next_trial_number,
            params=checked_params(search_space(study), params), state="queued", source="enqueued",
            created_at=utcnow(),
        )
        study.next_trial_number += 1
        session.add(record)
        session.flush()
        bump_version(session, study_id)
        return Trial.from_record(record)
