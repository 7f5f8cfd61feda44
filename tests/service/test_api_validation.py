"""Bad input gets a 4xx naming the field and the problem, and changes nothing."""

from __future__ import annotations

import pytest

SPACE = [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}, {"name": "k", "type": "int", "low": 1, "high": 9}]


def study_body(**overrides):
    body = {"name": "demo", "parameters": SPACE, "objectives": [{"name": "loss", "goal": "minimize"}], "surrogate": "random"}
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("parameters", "field", "words"),
    [
        ([{"name": "x", "type": "float", "low": 2.0, "high": 1.0}], "high", "greater than low"),
        ([{"name": "x", "type": "float", "low": 0.0, "high": 1.0, "log": True}], "log", "low > 0"),
        ([{"name": "x", "type": "int", "low": 0, "high": 10, "log": True}], "log", "low > 0"),
        ([{"name": "c", "type": "categorical", "choices": ["a"]}], "choices", "2"),
        ([{"name": "c", "type": "categorical", "choices": [str(i) for i in range(1001)]}], "choices", "1000"),
        ([{"name": "x", "type": "float", "low": 0, "high": 1}, {"name": "x", "type": "float", "low": 0, "high": 1}], "parameters", "x"),
        ([], "parameters", "1"),
        ([{"name": f"p{i}", "type": "float", "low": 0, "high": 1} for i in range(101)], "parameters", "100"),
        ([{"name": "x", "type": "complex", "low": 0, "high": 1}], "parameters", "type"),
    ],
)
def test_search_space_validation(client, parameters, field, words):
    response = client.post("/v1/studies", json=study_body(parameters=parameters))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["detail"] and words in body["detail"], body["detail"]
    assert any(err["loc"][:2] == ["body", "parameters"] for err in body["errors"])
    assert client.get("/v1/studies").json()["total"] == 0


def test_more_than_four_objectives_are_refused(client):
    objectives = [{"name": f"o{i}", "goal": "minimize"} for i in range(5)]
    response = client.post("/v1/studies", json=study_body(objectives=objectives))
    assert response.status_code == 422
    assert "at most 4 objectives" in response.json()["detail"]


def test_unknown_surrogate_and_bad_count(client):
    response = client.post("/v1/studies", json=study_body(surrogate="magic"))
    assert response.status_code == 422 and "surrogate" in response.json()["detail"]
    study = client.post("/v1/studies", json=study_body()).json()
    for count in (0, 65, "two"):
        response = client.post(f"/v1/studies/{study['id']}/suggest", json={"count": count})
        assert response.status_code == 422 and "count" in response.json()["detail"]
    assert client.get(f"/v1/studies/{study['id']}").json()["trial_counts"]["pending"] == 0


def test_bad_observations(client):
    study = client.post("/v1/studies", json=study_body()).json()
    sid = study["id"]
    trial = client.post(f"/v1/studies/{sid}/suggest", json={}).json()["trials"][0]
    cases = [
        ('{"trial_id": "%s", "values": {"loss": NaN}}' % trial["id"], 422, "values.loss"),
        ('{"trial_id": "%s", "values": {"loss": Infinity}}' % trial["id"], 422, "values.loss"),
        ('{"trial_id": "%s", "values": {"loss": "high"}}' % trial["id"], 422, "values.loss"),
        ('{"trial_id": "%s", "values": {"acc": 1.0}}' % trial["id"], 422, "objective"),
        ('{"values": {"loss": 1.0}}', 422, "trial_id"),
        ('{"trial_id": "nope", "values": {"loss": 1.0}}', 404, "nope"),
        ('{"params": {"x": 1.5, "k": 2}, "values": {"loss": 1.0}}', 422, "x"),
        ('{"params": {"x": 0.5, "k": 2, "z": 1}, "values": {"loss": 1.0}}', 422, "z"),
        ('{"params": {"x": 0.5}, "values": {"loss": 1.0}}', 422, "k"),
        ('{"params": {"x": "0.5", "k": 2}, "values": {"loss": 1.0}}', 422, "x"),
        ('{"trial_id": "%s", "values": {"loss": 1.0}, "noise_sd": {"loss": -1}}' % trial["id"], 422, "noise_sd"),
        ('{"trial_id": ', 422, "JSON"),
    ]
    for body, status, words in cases:
        response = client.post(f"/v1/studies/{sid}/observe", content=body, headers={"content-type": "application/json"})
        assert response.status_code == status, (body, response.text)
        detail = response.json()["detail"]
        assert words.lower() in detail.lower(), (body, detail)
        assert "Traceback" not in response.text
    trials = client.get(f"/v1/studies/{sid}/trials").json()
    assert trials["total"] == 1 and trials["items"][0]["state"] == "pending"


def test_unknown_study_and_other_studys_trial(client):
    assert client.get("/v1/studies/nope").status_code == 404
    assert client.post("/v1/studies/nope/suggest", json={}).json()["code"] == "not_found"
    first = client.post("/v1/studies", json=study_body()).json()
    second = client.post("/v1/studies", json={**study_body(), "name": "second"}).json()
    trial = client.post(f"/v1/studies/{first['id']}/suggest", json={}).json()["trials"][0]
    for action in ("fail", "abandon", "heartbeat"):
        response = client.post(f"/v1/studies/{second['id']}/trials/{trial['id']}/{action}")
        assert response.status_code == 404, action
    response = client.post(f"/v1/studies/{second['id']}/observe", json={"trial_id": trial["id"], "values": {"loss": 1}})
    assert response.status_code == 404
    assert client.get(f"/v1/studies/{first['id']}/trials?state=pending").json()["total"] == 1


def test_bad_query_parameters(client):
    assert client.get("/v1/studies?limit=0").status_code == 422
    assert client.get("/v1/studies?limit=100000").status_code == 422
    sid = client.post("/v1/studies", json=study_body()).json()["id"]
    response = client.get(f"/v1/studies/{sid}/trials?state=running")
    assert response.status_code == 422 and "state" in response.json()["detail"]


def test_predict_validation(client):
    sid = client.post("/v1/studies", json=study_body()).json()["id"]
    response = client.post(f"/v1/studies/{sid}/predict", json={"points": [{"x": 0.5, "k": 2}]})
    assert response.status_code == 409 and "at least 2" in response.json()["detail"]
    for x, k in ((0.1, 1), (0.9, 9), (0.5, 5)):
        client.post(f"/v1/studies/{sid}/observe", json={"params": {"x": x, "k": k}, "values": {"loss": x * k}})
    response = client.post(f"/v1/studies/{sid}/predict", json={"points": [{"x": 0.5, "k": 2}, {"x": 7.0, "k": 2}]})
    assert response.status_code == 422 and "points[1]" in response.json()["detail"]
    assert client.post(f"/v1/studies/{sid}/predict", json={"points": []}).status_code == 422
