"""A study as one self-contained JSON document (export), and a new study made from one (import).

Format ``bdlopt.study`` version 1::

    {"format": "bdlopt.study", "version": 1,
     "study": {name, parameters, objectives, surrogate, surrogate_options, initial_design_size, seed,
              outcome_constraints, parameter_constraints, early_stopping,
               lease_seconds, created_at},
     "trials": [{number, params, state, values, noise_sd, client_id, source, policy, fail_reason,
                 created_at, completed_at, lease_expires_at}, ...]}

Ids are not part of the record: an import gets new study and trial ids, everything else is kept
(trial numbers, states, values, times), so exporting the imported study gives the same document.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from service.db import Database
from service.db.models import StudyRecord, TrialRecord
from service.db.types import utcnow
from service.studies.catalog import new_id, new_study_record
from service.studies.training_data import outcome_names
from service.errors import ConflictError, InvalidInputError
from service.studies.records import load_study, trials_in_state
from service.studies.spec import StudySpec
from service.studies.views import TRIAL_STATES, Study

FORMAT = "bdlopt.study"
VERSION = 1
STUDY_FIELDS = ("name", "parameters", "objectives", "surrogate", "surrogate_options", "initial_design_size", "seed",
                "lease_seconds", "outcome_constraints", "parameter_constraints", "early_stopping")
TRIAL_FIELDS = ("number", "params", "state", "values", "noise_sd", "client_id", "source", "policy", "fail_reason")
TIME_FIELDS = ("created_at", "completed_at", "lease_expires_at")


def export_study(db: Database, study_id: str, *, owner: str | None = None) -> dict[str, Any]:
    """The export document of a study (NotFoundError when absent or not ``owner``'s)."""
    with db.read() as session:
        study = load_study(session, study_id, owner=owner)
        trials = trials_in_state(session, study_id, *TRIAL_STATES)
        return {
            "format": FORMAT,
            "version": VERSION,
            "study": {**{name: getattr(study, name) for name in STUDY_FIELDS},
                      "created_at": study.created_at.isoformat()},
            "trials": [_trial_document(trial) for trial in trials],
        }


def _trial_document(trial: TrialRecord) -> dict[str, Any]:
    document = {name: getattr(trial, name) for name in TRIAL_FIELDS}
    for name in TIME_FIELDS:
        value = getattr(trial, name)
        document[name] = value.isoformat() if value is not None else None
    return document


def import_study(db: Database, document: dict[str, Any], *, owner: str, name: str | None = None) -> Study:
    """Store the study of an export ``document`` under new ids, owned by ``owner`` (renamed to ``name`` if given).

    The study part is validated like a create request and every trial's params like an observation;
    nothing is written when any part is invalid. ConflictError when the name is taken.
    """
    if document.get("format") != FORMAT:
        raise InvalidInputError(f"format: expected '{FORMAT}', got {document.get('format')!r}", field="format")
    if document.get("version") != VERSION:
        raise InvalidInputError(f"version: this server reads version {VERSION}, got {document.get('version')!r}",
                                field="version")
    fields = dict(document.get("study") or {})
    if name is not None:
        fields["name"] = name
    try:
        spec = StudySpec.model_validate({key: fields.get(key) for key in STUDY_FIELDS if fields.get(key) is not None})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(["study", *(str(part) for part in first["loc"])])
        raise InvalidInputError(f"{field}: {first['msg'].removeprefix('Value error, ')}", field=field) from error
    study = new_study_record(spec, owner, default_lease_seconds=3600)
    study.seed = spec.seed if spec.seed is not None else 0
    study.created_at = _time(fields.get("created_at"), "study.created_at") or utcnow()
    trials = [_trial_record(study, item, index) for index, item in enumerate(document.get("trials") or [])]
    study.next_trial_number = max((t.number for t in trials), default=-1) + 1
    try:
        with db.write() as session:
            session.add(study)
            session.flush()
            session.add_all(trials)
            session.flush()
            return Study.from_record(study, _counts(trials))
    except IntegrityError as error:
        raise ConflictError(f"a study named '{spec.name}' already exists, or two trials share a number; "
                            "import under another name", field="name") from error


def _trial_record(study: StudyRecord, item: dict[str, Any], index: int) -> TrialRecord:
    where = f"trials[{index}]"
    if item.get("state") not in TRIAL_STATES:
        raise InvalidInputError(f"{where}.state: one of {list(TRIAL_STATES)}, got {item.get('state')!r}",
                                field=f"{where}.state")
    if item.get("source") not in ("suggested", "external", "enqueued"):
        raise InvalidInputError(f"{where}.source: 'suggested', 'external' or 'enqueued'", field=f"{where}.source")
    if not isinstance(item.get("number"), int) or not isinstance(item.get("params"), dict):
        raise InvalidInputError(f"{where}: needs an integer number and a params object", field=where)
    names = set(outcome_names(study))  # objectives and tracked metrics
    for key in ("values", "noise_sd"):
        given = item.get(key)
        if given is not None and (not isinstance(given, dict) or not set(given) <= names
                                  or not all(isinstance(v, (int, float)) for v in given.values())):
            raise InvalidInputError(f"{where}.{key}: numbers keyed by the objectives and tracked metrics {sorted(names)}",
                                    field=f"{where}.{key}")
    if item["state"] == "completed" and not item.get("values"):
        raise InvalidInputError(f"{where}.values: a completed trial needs its values", field=f"{where}.values")
    return TrialRecord(
        id=new_id(), study_id=study.id, **{name: item.get(name) for name in TRIAL_FIELDS},
        created_at=_time(item.get("created_at"), f"{where}.created_at") or study.created_at,
        completed_at=_time(item.get("completed_at"), f"{where}.completed_at"),
        lease_expires_at=_time(item.get("lease_expires_at"), f"{where}.lease_expires_at"),
    )


def _time(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as error:
        raise InvalidInputError(f"{field}: not an ISO 8601 time: {value!r}", field=field) from error
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _counts(trials: list[TrialRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    return counts
