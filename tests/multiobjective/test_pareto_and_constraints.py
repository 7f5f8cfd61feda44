"""Several objectives, outcome constraints and linear parameter constraints through the API."""

from __future__ import annotations

import itertools
import random

import pytest

SPACE = [
    {"name": "x", "type": "float", "low": 0.0, "high": 1.0},
    {"name": "y", "type": "float", "low": -1.0, "high": 1.0},
    {"name": "n", "type": "int", "low": 0, "high": 6},
    {"name": "c", "type": "categorical", "choices": ["a", "b"]},
]
GOALS = {"f1": "minimize", "f2": "maximize", "f3": "minimize"}


def _create(client, **extra):
    body = {"name": "mo", "parameters": SPACE, "objectives": [{"name": "f1"}, {"name": "f2", "goal": "maximize"}],
            "surrogate": "random", "seed": 5, **extra}
    return client.post("/v1/studies", json=body)


def _dominates(a: dict, b: dict, names: list[str]) -> bool:
    """a at least as good as b on every objective and better on one (goals of GOALS)."""
    better_or_equal = all((a[n] <= b[n]) if GOALS[n] == "minimize" else (a[n] >= b[n]) for n in names)
    strictly = any((a[n] < b[n]) if GOALS[n] == "minimize" else (a[n] > b[n]) for n in names)
    return better_or_equal and strictly


def test_pareto_front_is_the_brute_force_non_dominated_feasible_set(client) -> None:
    names = ["f1", "f2", "f3"]
    sid = _create(client, objectives=[{"name": n, "goal": GOALS[n]} for n in names],
                  outcome_constraints=[{"metric": "mem", "op": "<=", "bound": 0.7},
                                       {"metric": "f2", "op": ">=", "bound": 0.1}]).json()["id"]
    rng = random.Random(0)
    grid = [0.0, 0.25, 0.5, 0.75, 1.0]  # coarse values: ties and duplicate vectors occur
    stored = {}
    for _ in range(60):
        values = {n: rng.choice(grid) for n in names} | {"mem": rng.random()}
        params = {"x": rng.random(), "y": rng.uniform(-1, 1), "n": rng.randint(0, 6), "c": rng.choice("ab")}
        response = client.post(f"/v1/studies/{sid}/observe", json={"params": params, "values": values})
        assert response.status_code == 200, response.text
        stored[response.json()["id"]] = values
    feasible = {i: v for i, v in stored.items() if v["mem"] <= 0.7 and v["f2"] >= 0.1}
    expected = {i for i, v in feasible.items() if not any(_dominates(w, v, names) for w in feasible.values())}
    front = client.get(f"/v1/studies/{sid}/pareto").json()
    assert {t["id"] for t in front["trials"]} == expected and expected
    assert all(t["feasible"] is True for t in front["trials"])
    assert front["reference_point_inferred"] is True and front["hypervolume"] > 0
    best = client.get(f"/v1/studies/{sid}/best")
    assert best.status_code == 409 and f"/v1/studies/{sid}/pareto" in best.json()["detail"]


def test_two_objective_hypervolume_equals_the_area_by_hand(client) -> None:
    sid = _create(client, objectives=[{"name": "f1", "threshold": 1.0}, {"name": "f2", "goal": "maximize", "threshold": 0.0}]).json()["id"]
    points = [(0.2, 0.5), (0.5, 0.8), (0.1, 0.1), (0.6, 0.6), (0.9, 0.95)]  # (0.6, 0.6) is dominated
    for f1, f2 in points:
        client.post(f"/v1/studies/{sid}/observe", json={"params": {"x": 0.5, "y": 0.0, "n": 1, "c": "a"},
                                                         "values": {"f1": f1, "f2": f2}}).raise_for_status()
    front = client.get(f"/v1/studies/{sid}/pareto").json()
    kept = sorted((t["values"]["f1"], t["values"]["f2"]) for t in front["trials"])
    assert kept == [(0.1, 0.1), (0.2, 0.5), (0.5, 0.8), (0.9, 0.95)]
    # minimise f1 below 1.0, maximise f2 above 0.0: the union of rectangles [f1, 1] x [0, f2]
    area = 0.0
    for (a, fa), (b, _) in zip(kept, kept[1:] + [(1.0, 0.0)]):
        area += (b - a) * max(f for g, f in kept if g <= a)
    assert front["reference_point"] == [1.0, 0.0] and front["reference_point_inferred"] is False
    assert front["hypervolume"] == pytest.approx(area, rel=1e-12)
    assert client.get(f"/v1/studies/{sid}").json()["hypervolume"] == pytest.approx(area, rel=1e-12)


def test_every_suggested_point_satisfies_the_linear_constraints(client) -> None:
    constraints = [{"coefficients": {"x": 1.0, "n": 0.2}, "op": "<=", "bound": 1.1},
                   {"coefficients": {"x": 1.0, "y": -1.0}, "op": ">=", "bound": -0.2}]
    sid = _create(client, objectives=[{"name": "f1"}], parameter_constraints=constraints).json()["id"]
    points = []
    for _ in range(100):
        answer = client.post(f"/v1/studies/{sid}/suggest", json={"count": 10})
        assert answer.status_code == 200, answer.text
        points += [t["params"] for t in answer.json()["trials"]]
    assert len(points) == 1000
    for p in points:
        assert p["x"] + 0.2 * p["n"] <= 1.1 + 1e-9 and p["x"] - p["y"] >= -0.2 - 1e-9, p
    assert len({tuple(sorted(p.items())) for p in points}) == 1000


def test_model_based_batches_satisfy_the_linear_constraints(client) -> None:
    constraints = [{"coefficients": {"x": 1.0, "n": 0.2}, "op": "<=", "bound": 0.9}]
    sid = _create(client, objectives=[{"name": "f1"}, {"name": "f2", "goal": "maximize"}], surrogate="gp",
                  parameter_constraints=constraints, initial_design_size=6).json()["id"]
    policies = []
    for _ in range(3):  # two rounds of the initial design, one model-based batch
        answer = client.post(f"/v1/studies/{sid}/suggest", json={"count": 3})
        assert answer.status_code == 200, answer.text
        for t in answer.json()["trials"]:
            p = t["params"]
            assert p["x"] + 0.2 * p["n"] <= 0.9 + 1e-9, p
            policies.append(t["policy"])
            values = {"f1": p["x"] + 0.3 * p["n"], "f2": p["y"] - (p["x"] - 0.4) ** 2}
            client.post(f"/v1/studies/{sid}/observe", json={"trial_id": t["id"], "values": values}).raise_for_status()
    assert policies.count("gp") >= 3, policies


def test_a_missing_tracked_metric_is_a_422_and_nothing_is_written(client) -> None:
    sid = _create(client, objectives=[{"name": "f1"}],
                  outcome_constraints=[{"metric": "latency", "op": "<=", "bound": 2.0}]).json()["id"]
    [trial] = client.post(f"/v1/studies/{sid}/suggest", json={}).json()["trials"]
    missing = client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"f1": 1.0}})
    assert missing.status_code == 422 and "latency" in missing.json()["detail"]
    outside = client.post(f"/v1/studies/{sid}/observe", json={"params": {"x": 0.1, "y": 0, "n": 1, "c": "a"},
                                                               "values": {"f1": 1.0}})
    assert outside.status_code == 422
    trials = client.get(f"/v1/studies/{sid}/trials").json()
    assert trials["total"] == 1 and trials["items"][0]["state"] == "pending"
    ok = client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"f1": 1.0, "latency": 3.0}})
    assert ok.status_code == 200 and ok.json()["state"] == "completed"
    assert client.get(f"/v1/studies/{sid}/best").status_code == 404  # no feasible trial yet
    assert client.get(f"/v1/studies/{sid}/trials").json()["items"][0]["feasible"] is False


def test_an_observation_breaking_a_parameter_constraint_is_kept_and_flagged(client) -> None:
    sid = _create(client, objectives=[{"name": "f1"}],
                  parameter_constraints=[{"coefficients": {"x": 1.0}, "op": "<=", "bound": 0.5}]).json()["id"]
    outside = client.post(f"/v1/studies/{sid}/observe", json={"params": {"x": 0.9, "y": 0, "n": 1, "c": "a"},
                                                               "values": {"f1": 0.0}})
    assert outside.status_code == 200
    [row] = client.get(f"/v1/studies/{sid}/trials").json()["items"]
    assert row["feasible"] is False and row["values"] == {"f1": 0.0}


@pytest.mark.parametrize("extra, field, words", [
    ({"parameter_constraints": [{"coefficients": {"nope": 1}, "op": "<=", "bound": 1}]}, "parameter_constraints", "unknown parameter"),
    ({"parameter_constraints": [{"coefficients": {"c": 1}, "op": "<=", "bound": 1}]}, "parameter_constraints", "categorical"),
    ({"parameter_constraints": [{"coefficients": {"x": 1, "n": 1}, "op": ">=", "bound": 9}]}, "parameter_constraints", "no point"),
    ({"objectives": [{"name": f"f{i}"} for i in range(5)]}, "objectives", "at most 4"),
    ({"objectives": [{"name": "f"}, {"name": "f"}]}, "objectives", "duplicate"),
    ({"outcome_constraints": [{"metric": "m", "op": "<", "bound": 1}]}, "outcome_constraints", "op"),
])
def test_bad_specs_are_422s_naming_the_field(client, extra, field, words) -> None:
    response = _create(client, **extra)
    assert response.status_code == 422, response.text
    body = response.json()
    assert field in response.text and words in response.text, body
    assert client.get("/v1/studies").json()["total"] == 0


def test_a_log_scaled_parameter_in_a_linear_constraint_says_why(client) -> None:
    space = SPACE + [{"name": "lr", "type": "float", "low": 1e-4, "high": 1.0, "log": True}]
    response = client.post("/v1/studies", json={"name": "log", "parameters": space, "objectives": [{"name": "f"}],
                                                "parameter_constraints": [{"coefficients": {"lr": 1}, "op": "<=", "bound": 0.1}]})
    assert response.status_code == 422 and "log-scaled" in response.text


def test_predict_gives_every_outcome(client) -> None:
    sid = _create(client, objectives=[{"name": "f1"}, {"name": "f2", "goal": "maximize"}],
                  outcome_constraints=[{"metric": "mem", "op": "<=", "bound": 1.0}]).json()["id"]
    for x, n in itertools.product((0.1, 0.5, 0.9), (1, 4)):
        client.post(f"/v1/studies/{sid}/observe", json={"params": {"x": x, "y": 0.0, "n": n, "c": "a"},
                                                         "values": {"f1": x, "f2": -x, "mem": 0.1 * n}}).raise_for_status()
    body = client.post(f"/v1/studies/{sid}/predict", json={"points": [{"x": 0.5, "y": 0.0, "n": 1, "c": "a"}]}).json()
    assert set(body["outcomes"]) == {"f1", "f2", "mem"} and body["surrogate"] == "gp"
    assert body["outcomes"]["f1"]["mean"][0] == pytest.approx(0.5, abs=0.1)
    assert body["outcomes"]["f2"]["mean"][0] == pytest.approx(-0.5, abs=0.1)
    assert body["mean"] == body["outcomes"]["f1"]["mean"]
