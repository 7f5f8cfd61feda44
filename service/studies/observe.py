"""Record what a client measured: for a suggested trial, or as an outside observation."""

from __future__ import annotations

import math
from typing import Any, Mapping

from service.db import Database
from service.db.models import StudyRecord, TrialRecord
from service.db.types import utcnow
from service.space.search_space import SpaceError
from service.studies.catalog import new_id
from service.errors import ConflictError, InvalidInputError
from service.studies.records import load_study, load_trial
from service.studies.training_data import search_space
from service.studies.views import Trial


def _check_values(study: StudyRecord, values: Mapping[str, Any], field: str, *, allow_missing: bool) -> dict[str, float]:
    names = [o["name"] for o in study.objectives]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise InvalidInputError(f"{field}: unknown objective(s) {unknown}; the study's objectives are {names}", field=field)
    missing = [n for n in names if n not in values]
    if missing and not allow_missing:
        raise InvalidInputError(f"{field}: missing value for objective(s) {missing}", field=field)
    clean: dict[str, float] = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInputError(f"{field}.{name}: must be a number, got {value!r}", field=f"{field}.{name}")
        if not math.isfinite(value):
            raise InvalidInputError(f"{field}.{name}: must be finite, got {value!r}", field=f"{field}.{name}")
        clean[name] = float(value)
    return clean


def _check_noise(study: StudyRecord, noise_sd: Mapping[str, Any] | None) -> dict[str, float] | None:
    if noise_sd is None:
        return None
    clean = _check_values(study, noise_sd, "noise_sd", allow_missing=True)
    for name, value in clean.items():
        if value < 0:
            raise InvalidInputError(f"noise_sd.{name}: must be >= 0, got {value}", field=f"noise_sd.{name}")
    return clean or None


def _canonical_params(space, params: Mapping[str, Any]) -> dict[str, Any]:
    """The validated params in parameter order, integers as ``int``."""
    integer_names = {space.names[i] for i in space.integer_dims}
    return {
        name: int(round(params[name])) if name in integer_names else params[name] for name in space.names
    }


def observe(
    db: Database,
    study_id: str,
    *,
    values: Mapping[str, Any],
    trial_id: str | None = None,
    params: Mapping[str, Any] | None = None,
    noise_sd: Mapping[str, Any] | None = None,
    owner: str | None = None,
) -> Trial:
    """Complete a trial with its measured ``values``.

    With ``trial_id``: a pending (or expired: late results are still welcome) trial becomes
    completed; a completed, failed or abandoned one gives ConflictError and nothing changes.
    With ``params`` instead: an outside observation is attached as a new completed trial.
    """
    if (trial_id is None) == (params is None):
        raise InvalidInputError("give exactly one of trial_id or params", field="trial_id")
    with db.write() as session:
        study = load_study(session, study_id, owner=owner, lock=params is not None)
        clean_values = _check_values(study, values, "values", allow_missing=False)
        clean_noise = _check_noise(study, noise_sd)
        now = utcnow()
        if trial_id is not None:
            record = load_trial(session, study_id, trial_id, lock=True)
            if record.state == "completed":
                raise ConflictError(f"trial '{trial_id}' is already completed; an observation is recorded once")
            if record.state in ("failed", "abandoned"):
                raise ConflictError(f"trial '{trial_id}' is {record.state} and cannot be observed")
        else:
            space = search_space(study)
            try:
                space.encode(params)
            except SpaceError as error:
                field = f"params.{error.field}" if error.field else "params"
                raise InvalidInputError(f"params: {error}", field=field) from error
            record = TrialRecord(
                id=new_id(),
                study_id=study_id,
                number=study.next_trial_number,
                params=_canonical_params(space, params),
                source="external",
                created_at=now,
            )
            study.next_trial_number += 1
            session.add(record)
        record.state = "completed"
        record.values = clean_values
        record.noise_sd = clean_noise
        record.completed_at = now
        record.lease_expires_at = None
        session.flush()
        return Trial.from_record(record)
