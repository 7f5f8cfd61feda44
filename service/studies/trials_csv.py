"""The trials of a study as CSV: one row per trial, one column per parameter and per objective.

Columns: ``number, state, params_<parameter>..., values_<objective>..., source, created_at,
completed_at`` (the ``params_``/``values_`` prefixes, as in Optuna's ``trials_dataframe``, keep a
parameter and an objective of the same name apart). Cells of trials without values are empty.
"""

from __future__ import annotations

import csv
import io

from service.db import Database
from service.studies.records import load_study, trials_in_state
from service.studies.views import TRIAL_STATES


def trials_csv(db: Database, study_id: str, *, owner: str | None = None) -> str:
    """The CSV text of every trial of the study, in trial-number order."""
    with db.read() as session:
        study = load_study(session, study_id, owner=owner)
        parameters = [p["name"] for p in study.parameters]
        objectives = [o["name"] for o in study.objectives]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["number", "state", *(f"params_{n}" for n in parameters),
                         *(f"values_{n}" for n in objectives), "source", "created_at", "completed_at"])
        for trial in trials_in_state(session, study_id, *TRIAL_STATES):
            values = trial.values or {}
            writer.writerow([
                trial.number, trial.state, *(trial.params.get(n) for n in parameters),
                *(values.get(n) for n in objectives), trial.source, trial.created_at.isoformat(),
                trial.completed_at.isoformat() if trial.completed_at else None,
            ])
        return out.getvalue()
