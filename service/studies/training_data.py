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
from service.optimizers.outcomes import OutcomeBound, Outcomes
from service.space.linear_constraints import LinearConstraints, parse_constraints
from service.space.params import Parameter
from service.space.search_space import SearchSpace, SpaceError
from service.errors import InvalidInputError

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


def orientation(study: StudyRecord, index: int = 0) -> float:
    """+1 when objective ``index`` is maximised, -1 when minimised (policies always maximise)."""
    return 1.0 if study.objectives[index]["goal"] == "maximize" else -1.0


@lru_cache(maxsize=256)
def _constraints_from_json(parameters_json: str, constraints_json: str) -> LinearConstraints:
    return LinearConstraints(_space_from_json(parameters_json), parse_constraints(json.loads(constraints_json)))


def linear_constraints(study: StudyRecord) -> LinearConstraints | None:
    """The study's linear parameter constraints (None when it has none)."""
    if not study.parameter_constraints:
        return None
    return _constraints_from_json(json.dumps(study.parameters, sort_keys=True),
                                  json.dumps(study.parameter_constraints, sort_keys=True))


def outcome_names(study: StudyRecord) -> list[str]:
    """Objectives first, then constrained metrics that are not objectives (what every observation reports)."""
    names = [o["name"] for o in study.objectives]
    for c in study.outcome_constraints or []:
        if c["metric"] not in names:
            names.append(c["metric"])
    return names


def is_multi_outcome(study: StudyRecord) -> bool:
    """Whether the study models several outcomes (several objectives or outcome constraints)."""
    return len(study.objectives) > 1 or bool(study.outcome_constraints)


def build_outcomes(study: StudyRecord, completed: list[TrialRecord], dtype: torch.dtype = torch.float64) -> Outcomes:
    """Every modelled outcome of the completed trials (objectives maximisation-oriented first)."""
    names = outcome_names(study)
    k = len(study.objectives)
    signs = [orientation(study, i) for i in range(k)] + [1.0] * (len(names) - k)
    Y = torch.tensor([[s * float(t.values[n]) for s, n in zip(signs, names)] for t in completed],
                     dtype=dtype).reshape(len(completed), len(names))
    bounds = tuple(OutcomeBound(names.index(c["metric"]),
                                # a constraint on a (maximisation-oriented) objective column flips with its sign
                                c["op"] if signs[names.index(c["metric"])] > 0 else ("<=" if c["op"] == ">=" else ">="),
                                signs[names.index(c["metric"])] * float(c["bound"]))
                   for c in study.outcome_constraints or [])
    thresholds = [o.get("threshold") for o in study.objectives]
    ref = None
    if all(t is not None for t in thresholds):
        ref = torch.tensor([s * float(t) for s, t in zip(signs, thresholds)], dtype=dtype)
    return Outcomes(Y=Y, names=tuple(names), n_objectives=k, constraints=bounds, ref_point=ref)


def build_request(
    study: StudyRecord,
    completed: list[TrialRecord],
    pending: list[TrialRecord],
    count: int,
    fixed: Mapping[int, float] | None = None,
    n_suggested: int | None = None,
) -> SuggestRequest:
    """A policy request from the completed and pending trials of ``study``.

    ``pending`` includes queued trials (enqueued, not handed out yet); ``fixed`` holds columns
    for this call. ``y`` is oriented for maximisation. Known noise (``noise_sd``) is used only when every
    completed trial reports it; otherwise the policy infers the noise level. ``n_suggested`` (the
    number of the first new trial) defaults to the study's ``next_trial_number``.
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
        n_suggested=study.next_trial_number if n_suggested is None else n_suggested,
        n_initial=study.initial_design_size,
        cache_key=study.id,
        surrogate_options=dict(study.surrogate_options or {}),
        linear_constraints=linear_constraints(study),
        outcomes=build_outcomes(study, completed) if is_multi_outcome(study) else None,
        fixed=dict(fixed or {}),
    )
