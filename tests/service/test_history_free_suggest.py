"""The random policy on a space whose Sobol draws never repeat suggests without reading the trials.

Such a suggest is one short write transaction whose statements do not depend on the number of
trials (it used to read and encode every trial each time, which made a long random study
quadratic), and it still hands out queued and held trials first and continues the study's
Sobol sequence exactly where a history-reading suggest would.
"""

from __future__ import annotations

from collections.abc import Iterator
import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from service.db import Database
from service.optimizers.sobol import draw_sobol
from service.space.search_space import SearchSpace
from service.space.params import validate_parameter_list
from service.studies import suggest as suggest_module

CONTINUOUS = [{"name": "x", "type": "float", "low": -5.0, "high": 10.0}, {"name": "n", "type": "int", "low": 1, "high": 3}]
GRID_ONLY = [{"name": "n", "type": "int", "low": 1, "high": 3}, {"name": "c", "type": "categorical", "choices": ["a", "b"]}]


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Collect the SQL statements ``db`` runs inside the block for requests (the app's job reaper, a
    background thread that queries every ``job_reaper_interval_seconds``, is left out: on a loaded
    machine one of its ticks can fall inside the block)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.current_thread().name != "bdlopt-job-reaper":
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _study(any_client, parameters: list[dict], name: str = "hf") -> str:
    response = any_client.post("/v1/studies", json={"name": name, "parameters": parameters,
                                                    "objectives": [{"name": "f"}], "surrogate": "random", "seed": 7})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _suggest_observe(any_client, sid: str) -> dict:
    trial = any_client.post(f"/v1/studies/{sid}/suggest", json={}).json()["trials"][0]
    observed = any_client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"f": 1.0}})
    assert observed.status_code == 200, observed.text
    return trial


def test_statements_per_suggest_do_not_grow_with_the_study(any_client, database):
    sid = _study(any_client, CONTINUOUS)
    _suggest_observe(any_client, sid)
    with statements(database) as early:
        _suggest_observe(any_client, sid)
    for _ in range(30):
        _suggest_observe(any_client, sid)
    with statements(database) as late:
        _suggest_observe(any_client, sid)
    assert len(late) == len(early)
    assert not [s for s in late if "state IN (?, ?)" in s or "state IN (%(state_1_1)s, %(state_1_2)s)" in s]


def test_points_continue_the_study_sobol_sequence(any_client):
    sid = _study(any_client, CONTINUOUS)
    trials = [_suggest_observe(any_client, sid) for _ in range(6)]
    space = SearchSpace(validate_parameter_list(CONTINUOUS))
    # each call continues at its trial number: the k-th trial is point k of the study's sequence
    for k, trial in enumerate(trials):
        assert space.decode(draw_sobol(space, seed=7, start=k, count=1)[0]) == trial["params"]


def test_queued_and_held_trials_come_first(any_client):
    sid = _study(any_client, CONTINUOUS)
    queued = any_client.post(f"/v1/studies/{sid}/trials", json={"params": {"x": 1.5, "n": 2}})
    assert queued.status_code == 201, queued.text
    first = any_client.post(f"/v1/studies/{sid}/suggest", json={"count": 2, "client_id": "w1"}).json()["trials"]
    assert first[0]["id"] == queued.json()["id"] and first[1]["params"] != {"x": 1.5, "n": 2}
    again = any_client.post(f"/v1/studies/{sid}/suggest", json={"count": 2, "client_id": "w1"}).json()["trials"]
    assert [t["id"] for t in again] == [t["id"] for t in first]


def test_trial_numbers_stay_dense_when_queued_or_held_trials_answer(any_client):
    """The suggest reserves its numbers as it locks the study; a queued trial gives one back, and held
    trials roll the reservation back, so no number (and no point of the Sobol sequence) is skipped."""
    sid = _study(any_client, CONTINUOUS)
    queued = any_client.post(f"/v1/studies/{sid}/trials", json={"params": {"x": 1.5, "n": 2}}).json()
    batch = any_client.post(f"/v1/studies/{sid}/suggest", json={"count": 3, "client_id": "w1"}).json()["trials"]
    assert [t["number"] for t in batch] == [0, 1, 2] and batch[0]["id"] == queued["id"]
    held = any_client.post(f"/v1/studies/{sid}/suggest", json={"count": 3, "client_id": "w1"}).json()["trials"]
    assert [t["id"] for t in held] == [t["id"] for t in batch]
    (other,) = any_client.post(f"/v1/studies/{sid}/suggest", json={"client_id": "w2"}).json()["trials"]
    assert other["number"] == 3
    space = SearchSpace(validate_parameter_list(CONTINUOUS))
    assert space.decode(draw_sobol(space, seed=7, start=3, count=1)[0]) == other["params"]
    counts = any_client.get(f"/v1/studies/{sid}").json()["trial_counts"]
    assert counts["pending"] == 4 and counts["queued"] == 0


def test_a_space_whose_draws_can_repeat_still_reads_history(client, monkeypatch):
    calls: list[str] = []
    original = suggest_module.take_snapshot

    def spy(*args, **kwargs):
        calls.append("snapshot")
        return original(*args, **kwargs)

    monkeypatch.setattr(suggest_module, "take_snapshot", spy)
    grid = _study(client, GRID_ONLY, name="grid")
    seen = {tuple(sorted(_suggest_observe(client, grid)["params"].items())) for _ in range(6)}
    assert len(seen) == 6  # 6 distinct points of a 6-point grid: repeats were avoided
    assert len(calls) == 6
    calls.clear()
    continuous = _study(client, CONTINUOUS)
    _suggest_observe(client, continuous)
    assert calls == []
    held_x = client.post(f"/v1/studies/{continuous}/suggest", json={"fixed": {"x": 2.0}})
    assert held_x.status_code == 200 and calls == ["snapshot"]  # only a grid column left free
    calls.clear()
    constrained = client.post("/v1/studies", json={
        "name": "constrained", "parameters": CONTINUOUS, "objectives": [{"name": "f"}], "surrogate": "random",
        "parameter_constraints": [{"coefficients": {"x": 1.0}, "op": "<=", "bound": -4.0}]})
    assert constrained.status_code == 201, constrained.text
    points = {tuple(sorted(_suggest_observe(client, constrained.json()["id"])["params"].items())) for _ in range(5)}
    assert len(points) == 5 and len(calls) == 5  # a filtered sequence can repeat: history is read


@pytest.mark.parametrize("fixed, expected", [({}, True), ({0: 0.5}, False)])
def test_draws_never_repeat_needs_a_free_continuous_column(fixed, expected):
    space = SearchSpace(validate_parameter_list(CONTINUOUS))
    assert space.draws_never_repeat(fixed) is expected
    assert SearchSpace(validate_parameter_list(GRID_ONLY)).draws_never_repeat({}) is False


def test_a_repeated_random_suggest_opens_one_transaction_and_still_checks_the_study(any_client, database):
    sid = _study(any_client, CONTINUOUS)
    _suggest_observe(any_client, sid)
    with statements(database) as seen:
        any_client.post(f"/v1/studies/{sid}/suggest", json={})
    begins = [s for s in seen if s.startswith("BEGIN")]
    assert len(begins) == 1 or (not begins and database.url.get_backend_name() != "sqlite")
    on_study = [s for s in seen if s.lstrip().startswith(("SELECT studies.", "UPDATE studies"))]
    # the write transaction still reads (and locks) the study: in the statement that reserves the number
    assert len(on_study) == 1 and on_study[0].lstrip().startswith("UPDATE studies") and "RETURNING" in on_study[0]
    # what the process remembers is only which path to take: a deleted study is still not found
    assert any_client.delete(f"/v1/studies/{sid}").status_code == 204
    gone = any_client.post(f"/v1/studies/{sid}/suggest", json={})
    assert gone.status_code == 404 and sid in gone.text
