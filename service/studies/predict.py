"""Surrogate predictions at client-given points, in the objective's units.

The data and the stored surrogate state are read in a short transaction, the model is fitted
(or restored) with no transaction open, and a new state is saved in another short one.
A ``random`` study has no model: its predictions come from the GP surrogate fitted on its data
(``registry.RANDOM_PREDICTION_SURROGATE``), and the answer names the surrogate used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from service.db import Database
from service.optimizers import PredictionUnavailable, prediction_policy
from service.space.search_space import SpaceError
from service.errors import ConflictError, InvalidInputError, NotFoundError
from service.studies.model_states import load_model_state, save_model_state
from service.studies.records import load_study, trials_in_state
from service.studies.training_data import build_request, orientation, outcome_names

MIN_OBSERVATIONS = 2


@dataclass(frozen=True)
class PredictionResult:
    """Posterior of the objective at the requested points.

    Attributes:
        objective: the objective's name.
        surrogate: the surrogate that produced the prediction.
        mean, sd: one value per point, in the (first) objective's units.
        outcomes: ``{name: {"mean": [...], "sd": [...]}}`` for every modelled outcome.
    """

    objective: str
    surrogate: str
    mean: list[float]
    sd: list[float]
    outcomes: dict[str, dict[str, list[float]]]


def predict(
    db: Database, study_id: str, points: Sequence[Mapping[str, Any]], *, owner: str | None = None
) -> PredictionResult:
    """Posterior mean and standard deviation of the objective at ``points``."""
    with db.read() as session:
        study = load_study(session, study_id, owner=owner)
        completed = trials_in_state(session, study_id, "completed")
        if len(completed) < MIN_OBSERVATIONS:
            raise ConflictError(
                f"study '{study_id}' has {len(completed)} completed trial(s); predict needs at least {MIN_OBSERVATIONS}"
            )
        request = build_request(study, completed, [], 1)
        signs = [orientation(study, i) for i in range(len(study.objectives))]
        names = outcome_names(study)
        objective = names[0]
        surrogate, policy = prediction_policy(study.surrogate)
        warm = load_model_state(session, study_id, surrogate)
        version = study.version
    rows = []
    for index, point in enumerate(points):
        try:
            rows.append(request.space.encode(point))
        except SpaceError as error:
            raise InvalidInputError(f"points[{index}]: {error}", field=f"points.{index}") from error
    try:
        prediction = policy.predict(request, torch.stack(rows), warm)
    except PredictionUnavailable as error:
        raise ConflictError(f"the surrogate cannot predict for study '{study_id}' right now: {error}") from error
    if prediction.state is not None and prediction.state is not warm:
        try:
            with db.write() as session:
                load_study(session, study_id)
                save_model_state(session, study_id, surrogate, prediction.state, version)
        except NotFoundError:  # deleted meanwhile: the prediction stands, the state goes
            pass
    mean, sd = prediction.mean, prediction.sd
    if mean.dim() == 1:
        mean, sd = mean.unsqueeze(-1), sd.unsqueeze(-1)
    outcomes = {}
    for j, name in enumerate(names):
        sign = signs[j] if j < len(signs) else 1.0
        outcomes[name] = {"mean": [sign * float(m) for m in mean[:, j]], "sd": [float(s) for s in sd[:, j]]}
    first = outcomes[objective]
    return PredictionResult(objective, surrogate, first["mean"], first["sd"], outcomes)
