"""Surrogate predictions at client-given points, in the objective's units."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from service.db import Database
from service.optimizers.base import PredictionUnavailable, get_policy
from service.space.search_space import SpaceError
from service.errors import ConflictError, InvalidInputError
from service.studies.records import load_study, trials_in_state
from service.studies.training_data import build_request, orientation

MIN_OBSERVATIONS = 2


def predict(
    db: Database, study_id: str, points: Sequence[Mapping[str, Any]], *, owner: str | None = None
) -> tuple[str, list[float], list[float]]:
    """Posterior mean and standard deviation of the objective at ``points``.

    Studies with the random surrogate get the GP's prediction (random search has no model).
    Returns (objective name, means, standard deviations).
    """
    with db.read() as session:
        study = load_study(session, study_id, owner=owner)
        completed = trials_in_state(session, study_id, "completed")
        if len(completed) < MIN_OBSERVATIONS:
            raise ConflictError(
                f"study '{study_id}' has {len(completed)} completed trial(s); predict needs at least {MIN_OBSERVATIONS}"
            )
        request = build_request(study, completed, [], 1)
        sign = orientation(study)
        objective = study.objectives[0]["name"]
        surrogate = study.surrogate
    rows = []
    for index, point in enumerate(points):
        try:
            rows.append(request.space.encode(point))
        except SpaceError as error:
            raise InvalidInputError(f"points[{index}]: {error}", field=f"points.{index}") from error
    X = torch.stack(rows)
    policy = get_policy("gp" if surrogate == "random" else surrogate)
    try:
        mean, sd = policy.predict(request, X)
    except PredictionUnavailable as error:
        raise ConflictError(f"the surrogate cannot predict for study '{study_id}' right now: {error}") from error
    return objective, [sign * float(m) for m in mean], [float(s) for s in sd]
