"""The storage contract, run against every database back end (SQLite and PostgreSQL).

Like Optuna's storage tests: one suite, parametrised over back ends by the ``database`` fixture.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from service.db.models import StudyRecord, TrialRecord
from service.db.types import utcnow
from service.space.params import CategoricalParam, FloatParam, IntParam
from service.studies import catalog, enqueue, lifecycle, observe, queries, suggest
from service.errors import ConflictError, InvalidInputError, NotFoundError
from service.studies.spec import Objective, StudySpec


def make_spec(surrogate: str = "random", goal: str = "minimize", name: str = "contract", **extra) -> StudySpec:
    return StudySpec(
        name=name,
        parameters=[
            FloatParam(type="float", name="x", low=-1.0, high=2.0),
            IntParam(type="int", name="n", low=1, high=8, log=True),
            CategoricalParam(type="categorical", name="c", choices=["a", "b", 3]),
        ],
        objectives=[Objective(name="loss", goal=goal)],
        surrogate=surrogate,
        **extra,
    )


def test_create_get_list_delete(database):
    first = catalog.create_study(database, make_spec(seed=7))
    second = catalog.create_study(database, make_spec(name="contract-2"))
    got = catalog.get_study(database, first.id)
    assert got.name == "contract" and got.seed == 7
    assert got.initial_design_size == 6  # max(5, 2 d) with d = 3
    assert got.trial_counts == {"pending": 0, "completed": 0, "failed": 0, "abandoned": 0, "expired": 0, "early_stopped": 0, "queued": 0}
    assert got.parameters[1] == {"type": "int", "name": "n", "low": 1, "high": 8, "log": True}
    page = catalog.list_studies(database, limit=1, offset=0)
    assert page.total == 2 and len(page.items) == 1
    ids = {s.id for s in catalog.list_studies(database).items}
    assert ids == {first.id, second.id}
    suggest.suggest(database, first.id, count=2)
    catalog.delete_study(database, first.id)
    with pytest.raises(NotFoundError):
        catalog.get_study(database, first.id)
    with pytest.raises(NotFoundError):
        catalog.delete_study(database, first.id)
    with database.read() as session:
        orphans = session.scalars(select(TrialRecord).where(TrialRecord.study_id == first.id)).all()
    assert orphans == []


def test_suggest_creates_numbered_pending_trials_with_leases(database):
    study = catalog.create_study(database, make_spec(lease_seconds=120))
    trials = suggest.suggest(database, study.id, count=3, client_id="worker-1")
    more = suggest.suggest(database, study.id, count=2)
    assert [t.number for t in trials + more] == [0, 1, 2, 3, 4]
    for trial in trials:
        assert trial.state == "pending" and trial.client_id == "worker-1" and trial.source == "suggested"
        remaining = (trial.lease_expires_at - utcnow()).total_seconds()
        assert 100 < remaining <= 120
        assert -1.0 <= trial.params["x"] <= 2.0 and trial.params["n"] in range(1, 9)
        assert trial.params["c"] in ("a", "b", 3)
    points = [tuple(sorted(t.params.items(), key=lambda kv: kv[0])) for t in trials + more]
    assert len(set(map(str, points))) == 5
    assert catalog.get_study(database, study.id).trial_counts["pending"] == 5


def test_observe_transitions(database):
    study = catalog.create_study(database, make_spec())
    a, b, c = suggest.suggest(database, study.id, count=3)
    done = observe.observe(database, study.id, trial_id=a.id, values={"loss": 1.5}, noise_sd={"loss": 0.1})
    assert done.state == "completed" and done.values == {"loss": 1.5} and done.noise_sd == {"loss": 0.1}
    with pytest.raises(ConflictError):
        observe.observe(database, study.id, trial_id=a.id, values={"loss": 0.0})
    assert queries.best_trial(database, study.id).values == {"loss": 1.5}  # unchanged
    lifecycle.fail(database, study.id, b.id, reason="diverged")
    with pytest.raises(ConflictError):
        observe.observe(database, study.id, trial_id=b.id, values={"loss": 0.0})
    lifecycle.abandon(database, study.id, c.id)
    with pytest.raises(ConflictError):
        observe.observe(database, study.id, trial_id=c.id, values={"loss": 0.0})
    with pytest.raises(ConflictError):
        lifecycle.fail(database, study.id, a.id)
    counts = catalog.get_study(database, study.id).trial_counts
    assert counts == {"pending": 0, "completed": 1, "failed": 1, "abandoned": 1, "expired": 0, "early_stopped": 0, "queued": 0}


def _version(database, study_id: str) -> int:
    with database.read() as session:
        return session.scalars(select(StudyRecord.version).where(StudyRecord.id == study_id)).one()


def test_a_repeated_or_refused_observe_changes_nothing(database):
    study = catalog.create_study(database, make_spec())
    (trial,) = suggest.suggest(database, study.id)
    done = observe.observe(database, study.id, trial_id=trial.id, values={"loss": 1.5}, noise_sd={"loss": 0.1})
    version = _version(database, study.id)
    again = observe.observe(database, study.id, trial_id=trial.id, values={"loss": 1.5}, noise_sd={"loss": 0.1})
    assert again == done  # a client's retry: the stored trial, unchanged
    for call in (dict(values={"loss": 1.5}), dict(values={"loss": 1.5}, noise_sd={"loss": 0.2})):
        with pytest.raises(ConflictError):
            observe.observe(database, study.id, trial_id=trial.id, **call)
    with pytest.raises(NotFoundError):  # another principal's study is not found, whatever the values
        observe.observe(database, study.id, trial_id=trial.id, values={"nope": 1.0}, owner="mallory")
    assert _version(database, study.id) == version


def test_a_queued_trial_can_be_observed_directly(database):
    study = catalog.create_study(database, make_spec())
    queued = enqueue.enqueue(database, study.id, {"x": 0.5, "n": 2, "c": "a"})
    done = observe.observe(database, study.id, trial_id=queued.id, values={"loss": 0.25})
    assert done.state == "completed" and done.params == queued.params and done.values == {"loss": 0.25}
    (fresh,) = suggest.suggest(database, study.id)
    assert fresh.id != queued.id and fresh.number == queued.number + 1


def test_bad_observations_leave_nothing_written(database):
    study = catalog.create_study(database, make_spec())
    (trial,) = suggest.suggest(database, study.id)
    bad_calls = [
        dict(trial_id=trial.id, values={"loss": float("nan")}),
        dict(trial_id=trial.id, values={"loss": float("inf")}),
        dict(trial_id=trial.id, values={"other": 1.0}),
        dict(trial_id=trial.id, values={}),
        dict(trial_id=trial.id, values={"loss": 1.0}, noise_sd={"loss": -1.0}),
        dict(params={"x": 5.0, "n": 2, "c": "a"}, values={"loss": 1.0}),
        dict(params={"x": 0.0, "n": 2}, values={"loss": 1.0}),
        dict(params={"x": 0.0, "n": 2, "c": "zzz"}, values={"loss": 1.0}),
        dict(params={"x": 0.0, "n": 2, "c": "a", "y": 1}, values={"loss": 1.0}),
    ]
    for call in bad_calls:
        with pytest.raises(InvalidInputError):
            observe.observe(database, study.id, **call)
    other = catalog.create_study(database, make_spec(name="other"))
    with pytest.raises(NotFoundError):
        observe.observe(database, other.id, trial_id=trial.id, values={"loss": 1.0})
    with pytest.raises(NotFoundError):
        observe.observe(database, "no-such-study", trial_id=trial.id, values={"loss": 1.0})
    page = queries.list_trials(database, study.id)
    assert [t.state for t in page.items] == ["pending"] and page.total == 1
    assert catalog.get_study(database, other.id).trial_counts["completed"] == 0


def test_external_observation_and_best(database):
    study = catalog.create_study(database, make_spec(goal="maximize"))
    observe.observe(database, study.id, params={"x": 0.5, "n": 2, "c": 3}, values={"loss": 1.0})
    best = observe.observe(database, study.id, params={"x": 1.5, "n": 4.0, "c": "b"}, values={"loss": 3.0})
    observe.observe(database, study.id, params={"x": -0.5, "n": 1, "c": "a"}, values={"loss": 2.0})
    assert best.source == "external" and best.state == "completed"
    assert best.params == {"x": 1.5, "n": 4, "c": "b"} and isinstance(best.params["n"], int)
    assert queries.best_trial(database, study.id).id == best.id
    (suggested,) = suggest.suggest(database, study.id)
    assert suggested.number == 3


def test_leases_expire_heartbeat_and_late_observation(database):
    study = catalog.create_study(database, make_spec(lease_seconds=60))
    a, b = suggest.suggest(database, study.id, count=2)
    beat = lifecycle.heartbeat(database, study.id, b.id)
    assert beat.lease_expires_at >= b.lease_expires_at
    with database.write() as session:  # let a's lease run out
        session.execute(
            update(TrialRecord).where(TrialRecord.id == a.id).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert [t.id for t in queries.list_trials(database, study.id, state="expired").items] == [a.id]
    assert [t.id for t in queries.list_trials(database, study.id, state="pending").items] == [b.id]
    with pytest.raises(ConflictError):
        lifecycle.heartbeat(database, study.id, a.id)
    suggest.suggest(database, study.id)  # settles expired leases in storage
    assert catalog.get_study(database, study.id).trial_counts["expired"] == 1
    late = observe.observe(database, study.id, trial_id=a.id, values={"loss": 0.5})
    assert late.state == "completed"


def test_best_without_completed_trials_is_not_found(database):
    study = catalog.create_study(database, make_spec())
    with pytest.raises(NotFoundError):
        queries.best_trial(database, study.id)


def test_pagination_of_trials(database):
    study = catalog.create_study(database, make_spec())
    suggest.suggest(database, study.id, count=7)
    page = queries.list_trials(database, study.id, limit=3, offset=3)
    assert page.total == 7 and [t.number for t in page.items] == [3, 4, 5]


def test_a_snapshot_keeps_a_trial_observed_while_it_is_read(database, monkeypatch):
    """A suggest's snapshot reads completed trials, then pending ones. A trial observed between the
    two reads must show in one of them: on PostgreSQL's default READ COMMITTED each statement sees
    new commits, so such a trial fell between the reads, was neither data nor pending, and its
    point could be handed out again (two API processes under load did so)."""
    study = catalog.create_study(database, make_spec(surrogate="gp"))
    (trial,) = suggest.suggest(database, study.id)
    reads = []

    def observe_between_reads(session, study_id, *states):
        found = trials_in_state(session, study_id, *states)
        reads.append(states)
        if "completed" in states:  # another client's observe commits right after this read
            observe.observe(database, study.id, trial_id=trial.id, values={"loss": 1.0})
        return found

    trials_in_state = suggest.trials_in_state
    monkeypatch.setattr(suggest, "trials_in_state", observe_between_reads)
    snapshot = suggest.take_snapshot(database, study.id, None, 1)
    assert any("completed" in states for states in reads) and any("pending" in states for states in reads)
    assert snapshot.request.X.shape[0] + snapshot.request.pending.shape[0] == 1, (
        "the trial observed during the snapshot is in neither its data nor its pending points")
