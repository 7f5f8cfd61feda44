"""Trials of a study: suggest, observe, lifecycle transitions, listings, best, Pareto front, predict.

The per-trial routes (suggest, enqueue, observe, report, fail, abandon, heartbeat) are ``async`` and
send their one blocking call (the domain function: database work, perhaps a model fit) to the thread
pool themselves. For a plain ``def`` route FastAPI runs the endpoint in the thread pool and then the
response model's validation in the thread pool again: two hops per request, on the calls every client
makes once per trial (a hop costs more CPU than the validation, and its threads contend for the GIL
with the event loop). The rarer routes stay plain ``def``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Query, Request, status
from starlette.concurrency import run_in_threadpool

from service.api.auth import PrincipalDep
from service.auth import Principal
from service.api.deps import DatabaseDep
from service.api.rate_limit import enforce
from service.api.schemas.common import BODY_RESPONSES, ERROR_RESPONSES, RATE_LIMIT_RESPONSES, Offset, PageOf
from service.api.schemas.links import OBSERVED_TRIAL_LINKS, SUGGESTED_TRIALS_LINKS
from service.api.schemas.trials import (
    EnqueueIn,
    FailIn,
    ObserveIn,
    ParetoOut,
    PredictIn,
    PredictOut,
    ReportIn,
    ReportOut,
    SuggestIn,
    SuggestOut,
    TrialOut,
    TrialState,
)
from service.studies import enqueue, lifecycle, observe, pareto, predict, queries, reports, suggest

T = TypeVar("T")

router = APIRouter(prefix="/v1/studies/{study_id}", tags=["trials"], responses=ERROR_RESPONSES)


@router.post("/suggest",
             responses={200: {"links": SUGGESTED_TRIALS_LINKS}, **BODY_RESPONSES, **RATE_LIMIT_RESPONSES})
async def suggest_trials(
    study_id: str, db: DatabaseDep, principal: PrincipalDep, request: Request, body: SuggestIn | None = None
) -> SuggestOut:
    """New points to evaluate; each is a pending trial holding a lease."""
    body = body or SuggestIn()
    trials = await run_in_threadpool(
        _rate_limited, request, principal, "suggest", suggest.suggest,
        db, study_id, owner=principal.owner_filter(), count=body.count, client_id=body.client_id, fixed=body.fixed,
    )
    return SuggestOut(trials=[TrialOut.of(t) for t in trials])


def _rate_limited(request: Request, principal: Principal, action: str, call: Callable[..., T], *args: Any,
                  **kwargs: Any) -> T:
    """``call(*args, **kwargs)`` when ``principal`` is within its ``action`` budget (429 otherwise); in the
    thread pool, as the limiter may ask Redis."""
    enforce(request, principal, action)
    return call(*args, **kwargs)


@router.post("/trials", status_code=status.HTTP_201_CREATED, responses=BODY_RESPONSES)
async def enqueue_trial(study_id: str, body: EnqueueIn, db: DatabaseDep, principal: PrincipalDep) -> TrialOut:
    """Enqueue a point: a queued trial that the next suggest hands out before asking the model."""
    return TrialOut.of(await run_in_threadpool(enqueue.enqueue, db, study_id, body.params,
                                               owner=principal.owner_filter()))


@router.post("/observe", responses={200: {"links": OBSERVED_TRIAL_LINKS}, **BODY_RESPONSES})
async def observe_trial(study_id: str, body: ObserveIn, db: DatabaseDep, principal: PrincipalDep) -> TrialOut:
    """Record measured values for a suggested trial, or for outside ``params`` (warm start)."""
    trial = await run_in_threadpool(
        observe.observe, db, study_id, values=body.values, trial_id=body.trial_id, params=body.params,
        noise_sd=body.noise_sd, owner=principal.owner_filter(),
    )
    return TrialOut.of(trial)


@router.post("/trials/{trial_id}/report", responses=BODY_RESPONSES)
async def report_trial(study_id: str, trial_id: str, body: ReportIn, db: DatabaseDep,
                       principal: PrincipalDep) -> ReportOut:
    """An intermediate value of a pending trial; the answer says whether the study's policy stopped it."""
    outcome = await run_in_threadpool(reports.report, db, study_id, trial_id, step=body.step, values=body.values,
                                      owner=principal.owner_filter())
    decision = outcome.decision
    return ReportOut(stop=decision.stop, probability_of_improvement=decision.probability_of_improvement,
                     reason=decision.reason, trial=TrialOut.of(outcome.trial))


@router.post("/trials/{trial_id}/fail", responses=BODY_RESPONSES)
async def fail_trial(
    study_id: str, trial_id: str, db: DatabaseDep, principal: PrincipalDep,
    body: Annotated[FailIn | None, Body()] = None,
) -> TrialOut:
    """The evaluation failed; the trial stops counting as pending."""
    reason = body.reason if body else None
    return TrialOut.of(await run_in_threadpool(lifecycle.fail, db, study_id, trial_id, reason,
                                               owner=principal.owner_filter()))


@router.post("/trials/{trial_id}/abandon")
async def abandon_trial(study_id: str, trial_id: str, db: DatabaseDep, principal: PrincipalDep) -> TrialOut:
    """The trial will not be evaluated."""
    return TrialOut.of(await run_in_threadpool(lifecycle.abandon, db, study_id, trial_id,
                                               owner=principal.owner_filter()))


@router.post("/trials/{trial_id}/heartbeat")
async def heartbeat_trial(study_id: str, trial_id: str, db: DatabaseDep, principal: PrincipalDep) -> TrialOut:
    """Extend the trial's lease: its evaluation is still running."""
    return TrialOut.of(await run_in_threadpool(lifecycle.heartbeat, db, study_id, trial_id,
                                               owner=principal.owner_filter()))


@router.get("/trials")
def list_trials(
    study_id: str,
    db: DatabaseDep,
    principal: PrincipalDep,
    state: TrialState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> PageOf[TrialOut]:
    """Trials in creation order, optionally of one state."""
    page = queries.list_trials(db, study_id, owner=principal.owner_filter(), state=state, limit=limit, offset=offset)
    return PageOf[TrialOut](
        items=[TrialOut.of(t) for t in page.items], total=page.total, limit=page.limit, offset=page.offset
    )


@router.get("/best")
def best_trial(study_id: str, db: DatabaseDep, principal: PrincipalDep) -> TrialOut:
    """The completed trial with the best objective value."""
    return TrialOut.of(queries.best_trial(db, study_id, owner=principal.owner_filter()))


@router.get("/pareto")
def pareto_front(study_id: str, db: DatabaseDep, principal: PrincipalDep) -> ParetoOut:
    """The feasible completed trials that no other feasible completed trial dominates, and their hypervolume."""
    front = pareto.pareto_front(db, study_id, owner=principal.owner_filter())
    return ParetoOut(trials=[TrialOut.of(t) for t in front.trials], hypervolume=front.hypervolume,
                     reference_point=front.reference_point, reference_point_inferred=front.reference_point_inferred)


@router.post("/predict", responses=BODY_RESPONSES)
def predict_points(study_id: str, body: PredictIn, db: DatabaseDep, principal: PrincipalDep) -> PredictOut:
    """Surrogate mean and standard deviation of the objective at the given points."""
    result = predict.predict(db, study_id, body.points, owner=principal.owner_filter())
    return PredictOut(objective=result.objective, surrogate=result.surrogate, mean=result.mean, sd=result.sd,
                      outcomes=result.outcomes)
