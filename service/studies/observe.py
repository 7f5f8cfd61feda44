"""Record what a client measured: for a suggested trial, or as an outside observation."""

from __future__ import annotations

import math
from typing import Any, Mapping

from service.db import Database
from service.db.models import StudyRecord, TrialRecord
from service.db.types import utcnow
from service.studies.catalog import new_id
from service.errors import ConflictError, InvalidInputError
from service.studies import trial_statements as statements
from service.studies.records import count_change, load_study
from service.studies.training_data import checked_params, outcome_names, search_space
from service.studies.views import Trial


def check_values(study: StudyRecord, values: Mapping[str, Any], field: str, *, allow_missing: bool) -> dict[str, float]:
    """``values`` as floats keyed by the study's objectives and tracked metrics; InvalidInputError naming
    ``field`` otherwise."""
    names = outcome_names(study)
    objectives = [o["name"] for o in study.objectives]
    tracked = names[len(objectives):]
    unknown = sorted(set(values) - set(names))
    if unknown:
        known = f"the study's objectives are {objectives}" + (f" and its tracked metrics {tracked}" if tracked else "")
        raise InvalidInputError(f"{field}: unknown objective(s) {unknown}; {known}", field=field)
    missing = [n for n in names if n not in values]
    if missing and not allow_missing:
        kind = "objective(s) or tracked metric(s)" if tracked else "objective(s)"
        raise InvalidInputError(f"{field}: missing value for {kind} {missing}", field=field)
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
    clean = check_values(study, noise_sd, "noise_sd", allow_missing=True)
    for name, value in clean.items():
        if value < 0:
            raise InvalidInputError(f"noise_sd.{name}: must be >= 0, got {value}", field=f"noise_sd.{name}")
    return clean or None


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
    completed. Observing a completed trial again with identical values and noise is a repeat (a
    client's retry) and answers the stored trial unchanged; different values, or a failed or abandoned
    trial, give ConflictError and nothing changes.
    With ``params`` instead: an outside observation is attached as a new completed trial.
    """
    if (trial_id is None) == (params is None):
        raise InvalidInputError("give exactly one of trial_id or params", field="trial_id")
    if trial_id is None:
        return _observe_outside(db, study_id, params, values, noise_sd, owner)
    try:
        with db.write_connection() as connection:
            study = statements.count_change(connection, study_id, owner)
            clean_values = check_values(study, values, "values", allow_missing=False)
            clean_noise = _check_noise(study, noise_sd)
            row = statements.complete_open_trial(connection, study_id, trial_id, clean_values, clean_noise, utcnow())
            if row is None:  # not observable: a retry, a conflict, or no such trial
                row = statements.trial_row(connection, study_id, trial_id)
                if row.state == "completed" and row.values == clean_values and row.noise_sd == clean_noise:
                    raise statements.RolledBackAnswer(statements.trial_views(connection, [row])[0])
                if row.state == "completed":
                    raise ConflictError(
                        f"trial '{trial_id}' is already completed with values {row.values}; "
                        f"an observation is recorded once (this one has {clean_values})"
                    )
                raise ConflictError(f"trial '{trial_id}' is {row.state} and cannot be observed")
            return statements.trial_views(connection, [row])[0]
    except statements.RolledBackAnswer as repeat:
        return repeat.value  # a repeat of the applied call (a client's retry): same answer, nothing counted


def _observe_outside(db: Database, study_id: str, params: Mapping[str, Any], values: Mapping[str, Any],
                     noise_sd: Mapping[str, Any] | None, owner: str | None) -> Trial:
    """Attach an outside observation as a new completed trial (numbered under the study lock)."""
    with db.write() as session:
        study = load_study(session, study_id, owner=owner, lock=True)
        clean_values = check_values(study, values, "values", allow_missing=False)
        clean_noise = _check_noise(study, noise_sd)
        now = utcnow()
        record = TrialRecord(
            id=new_id(), study_id=study_id, number=study.next_trial_number,
            params=checked_params(search_space(study), params), source="external", created_at=now,
            state="completed", values=clean_values, noise_sd=clean_noise, completed_at=now, reports=[],
        )
        study.next_trial_number += 1
        session.add(record)
        count_change(study)
        session.flush()
        return Trial.from_record(record)
