"""optimize with n_jobs: parallel evaluations, callbacks, timeout, processes, and the journal's replay."""

from __future__ import annotations

import threading
import time

from service.sdk import Client
from service.sdk.journal import Journal, JournalEntry
from tests.workflow.conftest import SPACE, loss


def _study(sdk: Client, name: str = "par"):
    return sdk.create_study(name, SPACE, objective="loss", surrogate="random")


def test_n_jobs_evaluate_at_once_and_callbacks_see_every_trial(sdk):
    study = _study(sdk)
    lock, running, peak = threading.Lock(), [0], [0]

    def slow(params: dict) -> float:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.15)
        with lock:
            running[0] -= 1
        if params["n"] == 4:
            raise ValueError("n=4 diverges")
        return loss(params)

    seen = []
    best = sdk.optimize(slow, study, n_trials=8, n_jobs=4, progress=False, max_consecutive_failures=20,
                        callbacks=[lambda s, t: seen.append((s.id, t.state))])
    trials = sdk.trials(study)
    states = [t.state for t in trials]
    assert peak[0] == 4
    assert states.count("completed") == 8 and "pending" not in states
    assert all(t.state == "failed" for t in trials if t.params["n"] == 4)
    assert sorted(seen) == sorted((study.id, t.state) for t in trials if t.state in ("completed", "failed"))
    assert best.value == min(t.value for t in trials if t.state == "completed")
    assert {t.client_id for t in trials} <= {f"{_base(trials)}#{i}" for i in range(4)}


def _base(trials) -> str:
    return trials[0].client_id.rpartition("#")[0]


def test_timeout_stops_starting_trials_and_leaves_nothing_pending(sdk):
    study = _study(sdk)

    def slow(params: dict) -> float:
        time.sleep(0.2)
        return loss(params)

    started = time.monotonic()
    sdk.optimize(slow, study, n_trials=1000, n_jobs=2, batch_size=3, timeout=0.5, progress=False)
    assert time.monotonic() - started < 3.0
    counts = sdk.get_study(study).trial_counts
    assert 2 <= counts["completed"] <= 8 and counts["pending"] == 0


def test_processes_evaluate_a_picklable_function(sdk):
    study = _study(sdk)
    sdk.optimize(loss, study, n_trials=4, n_jobs=2, executor="process", progress=False)
    trials = sdk.trials(study, state="completed")
    assert len(trials) == 4 and all(t.value == loss(t.params) for t in trials)


def test_unsent_journal_entries_are_replayed_before_evaluating(sdk, tmp_path):
    study = _study(sdk)
    measured, failed = sdk.suggest(study, count=2, client_id="box#0")
    journal = Journal(tmp_path / "journal.jsonl")
    journal.record(JournalEntry(measured.id, "observe", values={"loss": -1.0}))
    journal.record(JournalEntry(failed.id, "fail", reason="RuntimeError: lost power"))
    with journal.path.open("a") as handle:
        handle.write('{"op": "result", "trial_id": "torn')  # a line cut short by a crash is skipped
    calls = []
    best = sdk.optimize(lambda p: calls.append(p) or loss(p), study, n_trials=3, progress=False,
                        journal=journal.path, client_id="box")
    assert best.id == measured.id and best.value == -1.0  # the journaled value, never re-evaluated
    assert sdk.trials(study)[1].state == "failed"
    assert len(calls) == 2 and measured.params not in calls
    assert not journal.path.exists()  # everything acknowledged: compacted away


def test_journal_keeps_results_the_server_did_not_acknowledge(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.record(JournalEntry("t1", "observe", values={"loss": 1.0}))
    journal.record(JournalEntry("t2", "fail", reason="boom"))
    journal.acknowledge("t1")
    journal.compact()
    assert journal.pending() == [JournalEntry("t2", "fail", reason="boom")]
    assert Journal(journal.path).pending() == journal.pending()  # read back from disk


def test_leases_of_running_evaluations_are_extended(sdk):
    study = sdk.create_study("short-lease", SPACE, objective="loss", surrogate="random", lease_seconds=3)
    beats = []
    heartbeat = sdk.heartbeat
    sdk.heartbeat = lambda study_id, trial_id: beats.append(trial_id) or heartbeat(study_id, trial_id)

    def slow(params: dict) -> float:
        time.sleep(2.5)
        return loss(params)

    sdk.optimize(slow, study, n_trials=1, progress=False)  # heartbeat every third of the lease: 1 s
    (trial,) = sdk.trials(study)
    assert trial.state == "completed" and beats.count(trial.id) >= 2
