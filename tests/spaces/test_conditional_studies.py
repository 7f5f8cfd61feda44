"""Conditional spaces, steps, bools, fixed values and held parameters through the REST API."""

from __future__ import annotations

import pytest

from tests.spaces.trees import THREE_LEVEL_TREE, check_point

OBJECTIVE = [{"name": "err", "goal": "minimize"}]


def make_study(client, surrogate: str = "random", **extra) -> str:
    body = {"name": "tree", "parameters": THREE_LEVEL_TREE, "objectives": OBJECTIVE, "surrogate": surrogate,
            "seed": 5, **extra}
    response = client.post("/v1/studies", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def error_value(params: dict) -> float:
    """A conditional objective with a different optimum per branch."""
    base = 0.1 if params["scale"] else 0.3
    if params["model"] == "svm":
        import math

        return base + (math.log10(params["C"]) - 1) ** 2 / 10 + (0.05 if params["kernel"] == "linear" else 0.0)
    if params["model"] == "rf":
        return base + abs(params["depth"] - 8) / 40 + abs(params["max_features"] - 0.3)
    return base + abs(params["k"] - 7) / 30


def test_500_random_suggestions_carry_only_active_parameters(client):
    sid = make_study(client)
    branches = set()
    for _ in range(10):
        trials = client.post(f"/v1/studies/{sid}/suggest", json={"count": 50}).json()["trials"]
        assert len(trials) == 50
        for trial in trials:
            check_point(trial["params"])
            branches.add((trial["params"]["model"], trial["params"].get("kernel"), "shrink" in trial["params"]))
    assert ("svm", "poly", True) in branches and len(branches) >= 6  # the third level is reached
    stored = client.get(f"/v1/studies/{sid}/trials", params={"limit": 1000}).json()
    assert stored["total"] == 500
    for trial in stored["items"]:
        check_point(trial["params"])


def test_gp_suggestions_on_a_three_level_tree(client):
    sid = make_study(client, "gp", initial_design_size=6)
    for trial in client.post(f"/v1/studies/{sid}/suggest", json={"count": 8}).json()["trials"]:
        client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"err": error_value(trial["params"])}})
    policies = []
    for count in (1, 1, 3):
        trials = client.post(f"/v1/studies/{sid}/suggest", json={"count": count}).json()["trials"]
        assert len(trials) == count
        for trial in trials:
            check_point(trial["params"])
            policies.append(trial["policy"])
            client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"err": error_value(trial["params"])}})
    assert set(policies) == {"gp"}, policies
    best = client.get(f"/v1/studies/{sid}/best").json()
    check_point(best["params"])
    predicted = client.post(f"/v1/studies/{sid}/predict", json={"points": [best["params"]]})
    assert predicted.status_code == 200, predicted.text


def test_lla_suggestions_on_a_three_level_tree(client):
    sid = make_study(client, "lla", initial_design_size=6, surrogate_options={"epochs": 60, "width": 16})
    for trial in client.post(f"/v1/studies/{sid}/suggest", json={"count": 8}).json()["trials"]:
        client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"err": error_value(trial["params"])}})
    trials = client.post(f"/v1/studies/{sid}/suggest", json={"count": 2}).json()["trials"]
    assert [t["policy"] for t in trials] == ["lla", "lla"]
    for trial in trials:
        check_point(trial["params"])


@pytest.mark.parametrize("params, field, fragment", [
    ({"model": "rf", "depth": 4, "max_features": 0.5, "scale": True, "k": 3}, "params.k", "inactive"),
    ({"model": "svm", "C": 1.0, "kernel": "poly", "scale": True}, "params.degree", "missing value"),
    ({"model": "rf", "depth": 5, "max_features": 0.5, "scale": True}, "params.depth", "not on the grid"),
    ({"model": "knn", "k": 3, "scale": 1}, "params.scale", "true or false"),
    ({"model": "knn", "k": 3, "scale": True, "seed": 3}, "params.seed", "fixed at 17"),
])
def test_observe_with_wrong_parameters_is_a_422_writing_nothing(client, params, field, fragment):
    sid = make_study(client)
    response = client.post(f"/v1/studies/{sid}/observe", json={"params": params, "values": {"err": 1.0}})
    assert response.status_code == 422, response.text
    body = response.json()
    assert fragment in body["detail"] and body["errors"][0]["loc"] == ["body", *field.split(".")]
    assert client.get(f"/v1/studies/{sid}/trials").json()["total"] == 0
    assert client.get(f"/v1/studies/{sid}").json()["trial_counts"]["completed"] == 0
    good = client.post(f"/v1/studies/{sid}/observe",
                       json={"params": {"model": "knn", "k": 3, "scale": True}, "values": {"err": 1.0}})
    assert good.status_code == 200 and good.json()["params"] == {"model": "knn", "k": 3, "scale": True, "seed": 17}


@pytest.mark.parametrize("surrogate", ["random", "gp"])
def test_suggest_with_fixed_holds_in_every_point_of_a_batch(client, surrogate):
    sid = make_study(client, surrogate, initial_design_size=5)
    held = {"model": "svm", "kernel": "poly", "scale": False}
    for trial in client.post(f"/v1/studies/{sid}/suggest", json={"count": 6, "fixed": {"model": "rf"}}).json()["trials"]:
        check_point(trial["params"])
        assert trial["params"]["model"] == "rf"
        client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"err": error_value(trial["params"])}})
    for count in (1, 4):
        trials = client.post(f"/v1/studies/{sid}/suggest", json={"count": count, "fixed": held}).json()["trials"]
        assert len(trials) == count
        for trial in trials:
            check_point(trial["params"])
            assert {k: trial["params"][k] for k in held} == held and "degree" in trial["params"]
            assert trial["policy"] == {"random": "sobol", "gp": "gp"}[surrogate]
            client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"err": error_value(trial["params"])}})
    bad = client.post(f"/v1/studies/{sid}/suggest", json={"fixed": {"degree": 3}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "fixed", "degree"]
    assert "kernel" in bad.json()["detail"]
    bad = client.post(f"/v1/studies/{sid}/suggest", json={"fixed": {"model": "tree"}})
    assert bad.status_code == 422 and "not one of the choices" in bad.json()["detail"]


def test_enqueued_points_are_handed_out_first_and_once(any_client):
    client = any_client
    sid = make_study(client, "gp", initial_design_size=3)
    first = {"model": "knn", "k": 7, "scale": True}
    second = {"model": "svm", "C": 10.0, "kernel": "rbf", "scale": False, "seed": 17}
    queued = [client.post(f"/v1/studies/{sid}/trials", json={"params": p}) for p in (first, second)]
    assert [q.status_code for q in queued] == [201, 201]
    assert [q.json()["state"] for q in queued] == ["queued", "queued"]
    assert queued[0].json()["params"] == {**first, "seed": 17} and queued[0].json()["source"] == "enqueued"
    got = client.post(f"/v1/studies/{sid}/suggest", json={"count": 1}).json()["trials"]
    assert [t["id"] for t in got] == [queued[0].json()["id"]] and got[0]["state"] == "pending"
    got = client.post(f"/v1/studies/{sid}/suggest", json={"count": 3}).json()["trials"]
    assert got[0]["id"] == queued[1].json()["id"] and len({t["id"] for t in got}) == 3
    assert all(t["id"] not in {q.json()["id"] for q in queued} for t in got[1:])
    counts = client.get(f"/v1/studies/{sid}").json()["trial_counts"]
    assert counts["queued"] == 0 and counts["pending"] == 4
    bad = client.post(f"/v1/studies/{sid}/trials", json={"params": {"model": "knn", "scale": True}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "params", "k"]
    assert client.get(f"/v1/studies/{sid}").json()["trial_counts"]["queued"] == 0


def test_queued_trials_count_as_pending_and_respect_fixed(client):
    sid = make_study(client)
    queued = client.post(f"/v1/studies/{sid}/trials", json={"params": {"model": "knn", "k": 7, "scale": True}}).json()
    held = client.post(f"/v1/studies/{sid}/suggest", json={"count": 2, "fixed": {"model": "rf"}}).json()["trials"]
    assert queued["id"] not in {t["id"] for t in held}  # it does not agree with the held values
    assert client.get(f"/v1/studies/{sid}").json()["trial_counts"]["queued"] == 1
    abandoned = client.post(f"/v1/studies/{sid}/trials/{queued['id']}/abandon")
    assert abandoned.status_code == 200 and abandoned.json()["state"] == "abandoned"
    assert queued["id"] not in {t["id"] for t in client.post(f"/v1/studies/{sid}/suggest", json={"count": 3}).json()["trials"]}
