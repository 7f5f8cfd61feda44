"""Intermediate values through the REST API: validation, conflicts, the early_stopped state."""

from __future__ import annotations

import statistics

import numpy as np

SPACE = [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}]


def _study(client, early_stopping=None, goal="minimize"):
    body = {"name": "curves", "parameters": SPACE, "objectives": [{"name": "err", "goal": goal}],
            "surrogate": "random", "seed": 1}
    if early_stopping is not None:
        body["early_stopping"] = early_stopping
    created = client.post("/v1/studies", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def _suggest(client, sid):
    return client.post(f"/v1/studies/{sid}/suggest", json={"count": 1}).json()["trials"][0]


def _report(client, sid, tid, step, value):
    return client.post(f"/v1/studies/{sid}/trials/{tid}/report", json={"step": step, "values": {"err": value}})


def test_reports_are_stored_and_validated(any_client):
    client = any_client
    sid = _study(client)["id"]
    trial = _suggest(client, sid)
    first = _report(client, sid, trial["id"], 0, 0.9)
    assert first.status_code == 200, first.text
    assert first.json()["stop"] is False and first.json()["probability_of_improvement"] is None
    assert _report(client, sid, trial["id"], 3, 0.5).status_code == 200

    same = _report(client, sid, trial["id"], 3, 0.4)
    assert same.status_code == 422 and "step" in same.json()["detail"]
    lower = _report(client, sid, trial["id"], 2, 0.4)
    assert lower.status_code == 422
    negative = _report(client, sid, trial["id"], -1, 0.4)
    assert negative.status_code == 422
    unknown = client.post(f"/v1/studies/{sid}/trials/{trial['id']}/report", json={"step": 9, "values": {"acc": 1.0}})
    assert unknown.status_code == 422 and "acc" in unknown.json()["detail"]
    nan = client.post(f"/v1/studies/{sid}/trials/{trial['id']}/report", content=b'{"step": 9, "values": {"err": NaN}}',
                      headers={"content-type": "application/json"})
    assert nan.status_code == 422

    listed = client.get(f"/v1/studies/{sid}/trials").json()["items"][0]
    assert listed["intermediate_values"] == [{"step": 0, "values": {"err": 0.9}}, {"step": 3, "values": {"err": 0.5}}]

    observed = client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"err": 0.3}})
    assert observed.status_code == 200 and observed.json()["intermediate_values"] == listed["intermediate_values"]
    late = _report(client, sid, trial["id"], 10, 0.2)
    assert late.status_code == 409 and late.json()["code"] == "conflict"
    missing = _report(client, sid, "nope", 1, 0.2)
    assert missing.status_code == 404


def test_early_stopped_trial_is_neither_pending_nor_failed(client):
    sid = _study(client, {"policy": "median", "min_steps": 0, "min_trials": 1})["id"]
    good = _suggest(client, sid)
    for step, value in enumerate([0.5, 0.4, 0.3]):
        assert _report(client, sid, good["id"], step, value).json()["stop"] is False
    client.post(f"/v1/studies/{sid}/observe", json={"trial_id": good["id"], "values": {"err": 0.3}})

    bad = _suggest(client, sid)
    answer = _report(client, sid, bad["id"], 0, 0.9).json()
    assert answer["stop"] is True and answer["trial"]["state"] == "early_stopped"
    assert answer["trial"]["values"] == {"err": 0.9} and answer["trial"]["completed_at"]
    assert "50th percentile" in answer["reason"]

    counts = client.get(f"/v1/studies/{sid}").json()["trial_counts"]
    assert counts["early_stopped"] == 1 and counts["pending"] == 0 and counts["failed"] == 0
    assert counts["completed"] == 1
    assert client.get(f"/v1/studies/{sid}/trials", params={"state": "pending"}).json()["total"] == 0
    assert client.get(f"/v1/studies/{sid}/trials", params={"state": "early_stopped"}).json()["total"] == 1
    assert _report(client, sid, bad["id"], 1, 0.1).status_code == 409
    assert client.post(f"/v1/studies/{sid}/observe", json={"trial_id": bad["id"], "values": {"err": 0.1}}).status_code == 409
    assert client.post(f"/v1/studies/{sid}/trials/{bad['id']}/fail").status_code == 409
    assert client.get(f"/v1/studies/{sid}/best").json()["id"] == good["id"]
    # the study keeps suggesting, with the early-stopped trial among its observations
    assert _suggest(client, sid)["state"] == "pending"


def _brute_force_median_stop(history: list[list[float]], curve: list[float], min_steps: int, min_trials: int):
    """The first step at which the median rule stops ``curve``, given completed full ``history`` curves."""
    for step in range(len(curve)):
        if step < min_steps:
            continue
        others = sorted(h[step] for h in history if len(h) > step)
        if len(others) < min_trials:
            continue
        n = len(others)
        median = others[n // 2] if n % 2 else (others[n // 2 - 1] + others[n // 2]) / 2
        if min(curve[: step + 1]) > median:
            return step
    return None


def test_median_rule_stops_exactly_the_brute_force_trials(client):
    min_steps, min_trials, n_steps = 2, 3, 8
    sid = _study(client, {"policy": "median", "min_steps": min_steps, "min_trials": min_trials}, goal="maximize")["id"]
    rng = np.random.default_rng(0)
    history: list[list[float]] = []  # completed curves, oriented as losses (the study maximises -loss)
    expected, observed = [], []
    for number in range(25):
        level, rate = rng.uniform(0.1, 1.0), rng.uniform(0.1, 0.6)
        curve = [float(level * np.exp(-rate * s) + 0.05 * rng.standard_normal()) for s in range(n_steps)]
        expected.append(_brute_force_median_stop(history, curve, min_steps, min_trials))
        trial = _suggest(client, sid)
        stopped_at = None
        for step, loss in enumerate(curve):
            answer = _report(client, sid, trial["id"], step, -loss).json()
            if answer["stop"]:
                stopped_at = step
                break
        observed.append(stopped_at)
        if stopped_at is None:
            client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"err": -curve[-1]}})
            history.append(curve)
    assert observed == expected
    stopped = sum(s is not None for s in expected)
    assert 5 <= stopped <= 20  # the rule was exercised both ways
    assert statistics.mean(len(h) for h in history) == n_steps


def test_model_policy_answers_with_a_probability(client):
    sid = _study(client, {"policy": "model", "min_steps": 2, "min_trials": 4})["id"]
    for number in range(6):  # each trial better than the last, so none is stopped
        trial = _suggest(client, sid)
        level, amplitude = 0.4 - 0.05 * number, 0.3 + 0.1 * (number % 3)
        for step in range(6):
            answer = _report(client, sid, trial["id"], step, level + amplitude / (step + 1)).json()
            assert answer["stop"] is False, answer
        final = level + amplitude / 6
        client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"err": final}})
    hopeless = _suggest(client, sid)
    answers = [_report(client, sid, hopeless["id"], step, 3.0 + 0.5 / (step + 1)).json() for step in range(3)]
    assert answers[0]["probability_of_improvement"] is None and answers[1]["probability_of_improvement"] is None
    assert answers[2]["stop"] is True and answers[2]["probability_of_improvement"] < 0.05
    assert answers[2]["trial"]["state"] == "early_stopped"
