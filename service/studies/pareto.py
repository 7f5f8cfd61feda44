"""Feasibility of trials, the Pareto front of a study and its hypervolume.

A completed trial is feasible when its values meet every outcome constraint and its params every
linear parameter constraint (an outside observation may break one: it is kept and flagged).
The front is the set of feasible completed trials that no other feasible completed trial
dominates (at least as good on every objective, better on one); equal value vectors are all
kept. The hypervolume is that of the front above the reference point: the objectives'
``threshold``s, or inferred from the front (BoTorch's ``infer_reference_point``; the answer says
which).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume, infer_reference_point
from botorch.utils.multi_objective.pareto import is_non_dominated
from sqlalchemy import select

from service.db import Database
from service.db.models import StudyRecord, TrialRecord
from service.studies.records import load_study
from service.studies.training_data import linear_constraints, orientation
from service.studies.views import Trial


@dataclass(frozen=True)
class ParetoFront:
    """The non-dominated feasible completed trials of a study.

    Attributes:
        trials: the front, in trial order.
        hypervolume: dominated hypervolume of the front (None without a front).
        reference_point: the point it is measured from, in the objectives' own units.
        reference_point_inferred: whether the reference point was inferred from the data.
    """

    trials: list[Trial]
    hypervolume: float | None
    reference_point: list[float] | None
    reference_point_inferred: bool


def is_feasible(study: StudyRecord, record: TrialRecord) -> bool | None:
    """Whether a trial meets the study's constraints (None for a trial without values)."""
    if record.values is None:
        return None
    for c in study.outcome_constraints or []:
        value = record.values.get(c["metric"])
        if value is None or (value > c["bound"] if c["op"] == "<=" else value < c["bound"]):
            return False
    constraints = linear_constraints(study)
    return constraints.satisfied(record.params) if constraints else True


def trial_view(study: StudyRecord, record: TrialRecord) -> Trial:
    """The trial with its feasibility filled in."""
    return replace(Trial.from_record(record), feasible=is_feasible(study, record))


def feasible_completed(session, study: StudyRecord) -> list[TrialRecord]:
    """Completed trials of the study that meet its constraints, in trial order."""
    records = session.scalars(
        select(TrialRecord).where(TrialRecord.study_id == study.id, TrialRecord.state == "completed")
        .order_by(TrialRecord.number)
    ).all()
    return [r for r in records if is_feasible(study, r)]


def pareto_front(db: Database, study_id: str, *, owner: str | None = None) -> ParetoFront:
    """The study's Pareto front (any number of objectives; one objective gives its best trials)."""
    with db.read() as session:
        study = load_study(session, study_id, owner=owner)
        feasible = feasible_completed(session, study)
        names = [o["name"] for o in study.objectives]
        signs = torch.tensor([orientation(study, i) for i in range(len(names))], dtype=torch.float64)
        if not feasible:
            return ParetoFront([], None, _thresholds(study), False)
        Y = torch.tensor([[r.values[n] for n in names] for r in feasible], dtype=torch.float64) * signs
        mask = is_non_dominated(Y, deduplicate=False)
        front = [trial_view(study, r) for r, keep in zip(feasible, mask.tolist()) if keep]
        thresholds = _thresholds(study)
        inferred = thresholds is None
        ref = infer_reference_point(Y[mask]) if inferred else torch.tensor(thresholds, dtype=torch.float64) * signs
        volume = Hypervolume(ref_point=ref).compute(Y[mask]) if len(names) > 1 else None
        return ParetoFront(front, None if volume is None else float(volume), (ref * signs).tolist(), inferred)


def _thresholds(study: StudyRecord) -> list[float] | None:
    values = [o.get("threshold") for o in study.objectives]
    return None if any(v is None for v in values) else [float(v) for v in values]
