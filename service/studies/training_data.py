"""Turn a study's stored trials into the tensors a policy works on."""

from __future__ import annotations

from functools import lru_cache
import json

from collections.abc import Mapping
from typing import Any

import torch
from pydantic import TypeAdapter

from service.db.models import StudyRecord, TrialRecord
from service.optimizers.base import SuggestRequest
from service.space.params import Parameter
from service.space.search_space import SearchSpace, SpaceError
from service.studies.errors import InvalidInputError

_PARAMETERS = TypeAdapter(list[Parameter])


@lru_cache(maxsize=256)
def _space_from_json(parameters_json: str) -> SearchSpace:
    return SearchSpace(_PARAMETERS.validate_json(parameters_json))


def search_space(study: StudyRecord) -> SearchSpace:
    """The study's search space (parsed once per distinct definition)."""
    return _space_from_json(json.dumps(study.parameters, sort_keys=True))


def checked_params(space: SearchSpace, params: Mapping[str, Any], field: str = "params") -> dict[str, Any]:
    """``params`` validated against ``space`` (exactly the active parameters) in canonical form.

    Raises:
        InvalidInputError: located at ``<field>.<parameter>``, naming the problem.
    """
    try:
        space.encode(params)
    except SpaceError as error:
        location = f"{field}.{error.field}" if error.field else field
        raise InvalidInputError(f"{field}: {error}", field=location) from error
    return space.canonical_params(params)


def orientation(study: StudyRecord) -> float:
    """+1 when the objective is maximised, -1 when minimised (policies always maximise)."""
    return 1.0 if study.objectives[0]["goal"] == "maximize" else -1.0


def build_request(
    study: StudyRecord,
    completed: list[TrialRecord],
    pending: list[TrialRecord],
    count: int,
    fixed: Mapping[int, float] | None = None,
) -> SuggestRequest:
    """A policy request from the completed and pending trials of ``study``.

    ``pending`` includes queued trials (enqueued, not handed out yet); ``fixed`` holds columns
    for this call. ``y`` is oriented for maximisation. Known noise (``noise_sd``) is used only when every
    completed trial reports it; otherwise the policy infers the noise level.
    """
    space = search_space(study)
    objective = study.objectives[0]["name"]
    sign = orientation(study)
    dtype = torch.float64
    X = space.encode_many([t.params for t in completed]) if completed else torch.empty(0, space.dim, dtype=dtype)
    y = torch.tensor([sign * float(t.values[objective]) for t in completed], dtype=dtype)
    sds = [(t.noise_sd or {}).get(objective) for t in completed]
    y_var = None
    if completed and all(sd is not None for sd in sds):
        y_var = torch.tensor([float(sd) ** 2 for sd in sds], dtype=dtype)
    X_pending = (
        space.encode_many([t.params for t in pending]) if pending else torch.empty(0, space.dim, dtype=dtype)
    )
    return SuggestRequest(
        space=space,
        X=X.to(dtype),
        y=y,
        y_var=y_var,
        pending=X_pending.to(dtype),
        count=count,
        seed=study.seed,
        n_suggested=study.next_trial_number,
        n_initial=study.initial_design_size,
        cache_key=study.id,
        surrogate_options=dict(study.surrogate_options or {}),
        fixed=dict(fixed or {}),
    )
