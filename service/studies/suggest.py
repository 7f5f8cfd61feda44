"""Suggest new trials: snapshot, compute without any lock held, commit if nothing moved.

1. **Snapshot** (a short read transaction): the study, its completed trials, its live pending
   trials (lease not run out), the surrogate's stored state, and ``next_trial_number``.
2. **Compute** (no transaction, no database lock): the policy fits its surrogate (warm-started
   from the stored state) and optimises the acquisition. Other studies' reads and writes, and
   this study's observes, proceed meanwhile, on SQLite as on PostgreSQL.
3. **Commit** (a short write transaction; the study row is locked: ``FOR UPDATE`` on
   PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite): when no trial was created since the snapshot
   (``next_trial_number`` unchanged), every trial the new points could collide with was
   already observed or pending in the snapshot, so the points are stored as they are. A trial
   that was observed, failed, abandoned or expired meanwhile changes nothing that matters: it
   was accounted for as pending. When trials were created meanwhile (another process's
   suggest, an outside observation), the suggest starts over from a fresh snapshot; the
   surrogate state saved by the first round makes the refit free when the observations did
   not change. After ``MAX_ROUNDS`` rounds the last points are committed with any collision
   with the new trials replaced by fresh Sobol points, so a suggest always ends.

A client that asks again with the ``client_id`` of live pending trials it holds gets those back
instead of new ones (``held_trials``): nothing is computed.

A policy that reads no history (``Policy.reads_history``: the random policy on an unconstrained
space whose Sobol draws never repeat) skips all of the above: held trials, queued trials and its points are
handled in one short write transaction (:func:`suggest_in_one_transaction`). Drawing the next
Sobol points is no model fit, and such a suggest costs the same at the millionth trial as at the
first.

Enqueued trials (state ``queued``, created by :func:`~service.studies.enqueue.enqueue`) are handed
out first: the snapshot lists them (they count as pending for the model, which is asked only
for the rest of the batch), and the commit claims them (``queued`` -> ``pending`` with a lease)
under the study lock, after checking that the queued trials it would claim are still the ones of
the snapshot; when another suggest claimed some meanwhile, the round starts over like above. So
each queued trial is handed out once, whatever the number of concurrent clients.

``fixed`` (``{name: value}``) holds some parameters in every point of this call; queued trials are
handed out only when they agree with it.

The fitted state is saved with the new trials (and also when a round must start over), with
the study version it was fitted at.

Why no database lock during the compute: on SQLite any write lock is a lock on the whole
database, and on PostgreSQL an advisory or row lock pins a pooled connection for the length of
a fit. Within one process, :func:`~service.studies.compute_locks.study_compute_lock`
serialises the compute per study, so two suggests on one study never both fit for nothing;
across processes the version check above keeps every guarantee (no duplicate points, pending
points steer the acquisition, nothing lost), at the price of a repeated acquisition when two
processes suggest on one study at the same moment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import torch
from sqlalchemy import Connection, Row, select

from service.db import Database
from service.db.models import StudyRecord, TrialRecord
from service.db.types import utcnow
from service.observability.metrics import FIT_FAILURES, SUGGEST_SECONDS
from service.optimizers import SuggestRequest, Suggestion, SurrogateState, get_policy
from service.optimizers.distinct_points import is_duplicate
from service.optimizers.sobol import draw_sobol
from service.space.param_base import same_value
from service.space.search_space import SearchSpace, SpaceError
from service.studies.catalog import new_id
from service.studies.compute_locks import study_compute_lock
from service.studies.held_trials import held_trials
from service.errors import InvalidInputError
from service.studies.model_states import load_model_state, save_model_state
from service.studies import trial_statements as statements
from service.studies.records import load_study, trials_in_state
from service.studies.training_data import build_request, linear_constraints, search_space
from service.studies.views import Trial

logger = logging.getLogger(__name__)

MAX_ROUNDS = 4
HISTORY_NEED_CACHE_SIZE = 4096
_HISTORY_NEED: OrderedDict[str, bool] = OrderedDict()
_HISTORY_NEED_LOCK = threading.Lock()


@dataclass(frozen=True)
class Snapshot:
    """What one suggest round computes from (read in one short transaction)."""

    request: SuggestRequest
    warm: SurrogateState | None
    surrogate: str
    next_trial_number: int
    version: int
    queued: tuple[str, ...] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)

    @property
    def model_count(self) -> int:
        """Points the policy is asked for: the batch less the queued trials handed out."""
        return self.request.count - len(self.queued)


def suggest(
    db: Database, study_id: str, *, owner: str | None = None, count: int = 1, client_id: str | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> list[Trial]:
    """Create ``count`` pending trials: queued ones first, the rest chosen jointly by the study's policy
    (see module docstring), every one holding the ``fixed`` values."""
    if not reads_history(db, study_id, owner, fixed or {}):
        return suggest_in_one_transaction(db, study_id, owner, count, client_id, dict(fixed or {}))
    with study_compute_lock(study_id):
        held = trials_held_by(db, study_id, owner, client_id, count)
        if held:
            return held
        for round_ in range(1, MAX_ROUNDS + 1):
            snapshot = take_snapshot(db, study_id, owner, count, dict(fixed or {}))
            suggestion = compute(snapshot, study_id)
            trials = commit(db, study_id, snapshot, suggestion, client_id, final=round_ == MAX_ROUNDS)
            if trials is not None:
                return trials
            logger.info("suggest study=%s: trials were created during round %d; starting over", study_id, round_)
    raise AssertionError("unreachable: the final round always commits")


def reads_history(db: Database, study_id: str, owner: str | None, fixed: Mapping[str, Any]) -> bool:
    """Whether the study's policy needs the trials to suggest (False: the random policy on a space
    whose draws never repeat).

    The answer depends only on what a study never changes after creation (surrogate, parameters,
    parameter constraints), so without ``fixed`` it is remembered per study id in this process
    (``_HISTORY_NEED``): a suggest of a random study then opens one transaction, not two. Nothing is
    trusted from the memory but this flag: the write transaction loads the study again and checks
    its existence and owner.
    """
    if not fixed:
        with _HISTORY_NEED_LOCK:
            known = _HISTORY_NEED.get(study_id)
        if known is not None:
            return known
    with db.read() as session:
        study = load_study(session, study_id, owner=owner)
        needed = get_policy(study.surrogate).reads_history(search_space(study), fixed_columns(study, fixed),
                                                           linear_constraints(study))
    if not fixed:
        with _HISTORY_NEED_LOCK:
            _HISTORY_NEED[study_id] = needed
            while len(_HISTORY_NEED) > HISTORY_NEED_CACHE_SIZE:
                _HISTORY_NEED.popitem(last=False)
    return needed


def suggest_in_one_transaction(db: Database, study_id: str, owner: str | None, count: int, client_id: str | None,
                               fixed: Mapping[str, Any]) -> list[Trial]:
    """Suggest for a policy that reads no history: held trials, queued trials and the policy's
    points, all in one short write transaction (the policy only continues its Sobol sequence, no
    model is fitted), so concurrent suggests neither wait for a study lock nor start over.

    This is the call every client of a random study makes per trial, so it runs on Core statements
    (``trial_statements``) and reads the study while it reserves the trial numbers: one statement
    locks, checks and numbers. Numbers that queued trials make unnecessary are given back; when the
    client holds trials, the transaction is rolled back and those are the answer."""
    try:
        with db.write_connection() as connection:
            now = utcnow()
            study = statements.reserve_numbers(connection, study_id, owner, count, client_id, now)
            first = study.next_trial_number - count
            queued, held = [], []
            if study.has_queued or study.has_held:
                queued, held = statements.queued_and_held_rows(connection, study_id, client_id, now)
            if held:
                raise statements.RolledBackAnswer(statements.trial_views(connection, held[:count]))
            columns = fixed_columns(study, fixed)
            claimed = claimable(queued, fixed)[:count]
            if claimed:
                statements.set_next_number(connection, study_id, first + count - len(claimed))
            space = search_space(study)
            X = torch.empty(0, space.dim, dtype=torch.float64)
            policy = "queued"
            if count > len(claimed):
                request = build_request(study, [], [], count - len(claimed), fixed=columns, n_suggested=first)
                started = time.perf_counter()
                suggestion = get_policy(study.surrogate).suggest(request)
                elapsed = time.perf_counter() - started
                SUGGEST_SECONDS.labels(study.surrogate).observe(elapsed)
                logger.info("suggest study=%s count=%d policy=%s seconds=%.3f (no history read)",
                            study_id, count - len(claimed), suggestion.policy, elapsed)
                X, policy = suggestion.X, suggestion.policy
            return store_trials(connection, study, first, space, claimed, X, client_id, policy, now)
    except statements.RolledBackAnswer as held:
        return held.value


def fixed_columns(study: StudyRecord, fixed: Mapping[str, Any]) -> dict[int, float]:
    """``fixed`` ``{name: value}`` encoded for the study's space; a 422 at ``fixed.<name>`` when it does not fit."""
    try:
        return search_space(study).encode_fixed(fixed)
    except SpaceError as error:
        location = f"fixed.{error.field}" if error.field else "fixed"
        raise InvalidInputError(f"fixed: {error}", field=location) from error


def trials_held_by(db: Database, study_id: str, owner: str | None, client_id: str | None, count: int) -> list[Trial]:
    """The live pending trials ``client_id`` already holds (re-offered instead of new ones, as Vizier does)."""
    if client_id is None:
        return []
    with db.read() as session:
        load_study(session, study_id, owner=owner)
        return [Trial.from_record(r) for r in held_trials(session, study_id, client_id, count, utcnow())]


def take_snapshot(db: Database, study_id: str, owner: str | None, count: int,
                  fixed: Mapping[str, Any] | None = None) -> Snapshot:
    """Read the study's data, live pending and queued trials and stored surrogate state."""
    fixed = dict(fixed or {})
    with db.read() as session:
        study = load_study(session, study_id, owner=owner)
        columns = fixed_columns(study, fixed)
        now = utcnow()
        # An early-stopped trial enters as an observation of its last reported value (see reports.py).
        completed = trials_in_state(session, study_id, "completed", "early_stopped")
        pending = [
            t for t in trials_in_state(session, study_id, "pending")
            if t.lease_expires_at is None or t.lease_expires_at >= now
        ]
        queued = trials_in_state(session, study_id, "queued")
        request = build_request(study, completed, pending + queued, count, fixed=columns)
        warm = load_model_state(session, study_id, study.surrogate) if study.surrogate != "random" else None
        claim = tuple(t.id for t in claimable(queued, fixed)[:count])
        return Snapshot(request, warm, study.surrogate, study.next_trial_number, study.version, claim, fixed)


def claimable(queued: Sequence[Any], fixed: Mapping[str, Any]) -> list[Any]:
    """The queued trials (in creation order) that agree with the ``fixed`` values."""
    return [
        t for t in queued
        if all(name in t.params and same_value(t.params[name], value) for name, value in fixed.items())
    ]


def compute(snapshot: Snapshot, study_id: str) -> Suggestion:
    """Run the study's policy on a snapshot (no database access); no policy call when queued trials fill the batch."""
    request = snapshot.request
    if snapshot.model_count == 0:
        return Suggestion(X=request.X.new_zeros(0, request.space.dim), policy="queued", state=None)
    if snapshot.queued:
        request = replace(request, count=snapshot.model_count)
    started = time.perf_counter()
    suggestion = get_policy(snapshot.surrogate).suggest(request, snapshot.warm)
    elapsed = time.perf_counter() - started
    SUGGEST_SECONDS.labels(snapshot.surrogate).observe(elapsed)
    if suggestion.fell_back:
        FIT_FAILURES.labels(snapshot.surrogate).inc()
        logger.warning("suggest fell back to Sobol for study=%s: %s", study_id, suggestion.fallback_reason)
    logger.info(
        "suggest study=%s n=%d pending=%d count=%d policy=%s seconds=%.3f",
        study_id, snapshot.request.n_observed, snapshot.request.pending.shape[0], snapshot.request.count,
        suggestion.policy, elapsed,
    )
    return suggestion


def commit(
    db: Database, study_id: str, snapshot: Snapshot, suggestion: Suggestion, client_id: str | None, *, final: bool
) -> list[Trial] | None:
    """Store the suggested trials, or None when trials were created since the snapshot (not ``final``)."""
    space = snapshot.request.space
    with db.write() as session:
        study = load_study(session, study_id, lock=True)
        if suggestion.state is not None:
            save_model_state(session, study_id, snapshot.surrogate, suggestion.state, snapshot.version)
        X = suggestion.X
        claimed = claimable(trials_in_state(session, study_id, "queued"), snapshot.fixed)[: snapshot.request.count]
        moved = tuple(t.id for t in claimed) != snapshot.queued
        if study.next_trial_number != snapshot.next_trial_number or moved:
            if not final:
                return None
            X = _avoid_new_trials(session, study_id, snapshot, X)
        X = _fit_to(snapshot, X, snapshot.request.count - len(claimed))
        connection, now = session.connection(), utcnow()
        row = statements.reserve_numbers(connection, study_id, None, X.shape[0], None, now)
        return store_trials(connection, row, row.next_trial_number - X.shape[0], space, claimed, X, client_id,
                            suggestion.policy, now)


def store_trials(connection: Connection, study: Row, first_number: int, space: SearchSpace, claimed: Sequence[Any],
                 X: torch.Tensor, client_id: str | None, policy: str, now: datetime) -> list[Trial]:
    """Hand out the ``claimed`` queued trials (rows or records) and create one pending trial per row of
    ``X`` ``(k, D)``, numbered from ``first_number``, inside the caller's write transaction. ``study`` is
    the row :func:`~service.studies.trial_statements.reserve_numbers` returned when it reserved the
    numbers and locked the study. Expires run-out leases on the way (when its ``earliest_lease`` says any
    ran out)."""
    study_id = study.id
    if study.earliest_lease is not None and study.earliest_lease < now:
        statements.expire_leases(connection, study_id, now)
    lease_until = now + timedelta(seconds=study.lease_seconds)
    statements.claim(connection, [t.id for t in claimed], client_id, lease_until)
    trials = [replace(Trial.of(t), state="pending", client_id=client_id, lease_expires_at=lease_until) for t in claimed]
    rows = [{
        "id": new_id(), "study_id": study_id, "number": first_number + i, "params": params, "state": "pending",
        "values": None, "noise_sd": None, "client_id": client_id, "source": "suggested", "policy": policy,
        "fail_reason": None, "created_at": now, "completed_at": None, "lease_expires_at": lease_until,
    } for i, params in enumerate(space.decode_many(X))]
    statements.insert_trials(connection, rows)
    return trials + [Trial(**{**row, "params": dict(row["params"])}) for row in rows]


def _fit_to(snapshot: Snapshot, X: torch.Tensor, needed: int) -> torch.Tensor:
    """``needed`` rows: ``X`` cut, or filled with Sobol points (queued trials claimed elsewhere meanwhile)."""
    if X.shape[0] >= needed:
        return X[:needed]
    request = snapshot.request
    avoid = torch.cat([request.X, request.pending.to(request.X), X.to(request.X)])
    fill = draw_sobol(request.space, request.seed, snapshot.next_trial_number, needed - X.shape[0], avoid=avoid,
                      dtype=request.X.dtype, device=request.X.device, fixed=dict(request.fixed),
                      feasible=request.feasible)
    return torch.cat([X.to(fill), fill])


def _avoid_new_trials(session, study_id: str, snapshot: Snapshot, X: torch.Tensor) -> torch.Tensor:
    """``X`` with points equal to a trial created since the snapshot replaced by fresh Sobol points."""
    space = snapshot.request.space
    new = list(session.scalars(
        select(TrialRecord).where(TrialRecord.study_id == study_id, TrialRecord.number >= snapshot.next_trial_number)
    ))
    if not new:
        return X
    taken = space.encode_many([t.params for t in new]).to(X)
    clash = is_duplicate(X, taken)
    if not bool(clash.any()):
        return X
    request = snapshot.request
    avoid = torch.cat([request.X, request.pending.to(X), taken, X[~clash]])
    fill = draw_sobol(space, request.seed, snapshot.next_trial_number + len(new), int(clash.sum()), avoid=avoid,
                      dtype=X.dtype, device=X.device, fixed=dict(request.fixed), feasible=request.feasible)
    return torch.cat([X[~clash], fill])
