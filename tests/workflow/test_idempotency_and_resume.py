"""Repeats of applied writes answer like the first call; a study is resumed by its name; a client id gets
back the trials it holds."""

from __future__ import annotations

import pytest

from service.sdk import ConflictError
from tests.workflow.conftest import SPACE, loss

BODY = {"name": "resume-me", "parameters": SPACE, "objectives": [{"name": "loss"}], "surrogate": "random"}


def _study(client) -> str:
    response = client.post("/v1/studies", json=BODY)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_repeated_observe_fail_abandon_answer_200_and_change_nothing(client):
    sid = _study(client)
    a, b, c = client.post(f"/v1/studies/{sid}/suggest", json={"count": 3}).json()["trials"]
    first = client.post(f"/v1/studies/{sid}/observe", json={"trial_id": a["id"], "values": {"loss": 0.25}})
    again = client.post(f"/v1/studies/{sid}/observe", json={"trial_id": a["id"], "values": {"loss": 0.25}})
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    other = client.post(f"/v1/studies/{sid}/observe", json={"trial_id": a["id"], "values": {"loss": 0.5}})
    assert other.status_code == 409 and "0.25" in other.json()["detail"]
    noisy = client.post(f"/v1/studies/{sid}/observe",
                        json={"trial_id": a["id"], "values": {"loss": 0.25}, "noise_sd": {"loss": 0.1}})
    assert noisy.status_code == 409
    fails = [client.post(f"/v1/studies/{sid}/trials/{b['id']}/fail", json={"reason": "OOM"}) for _ in range(2)]
    assert [r.status_code for r in fails] == [200, 200] and fails[0].json() == fails[1].json()
    assert client.post(f"/v1/studies/{sid}/trials/{b['id']}/fail", json={"reason": "other"}).status_code == 409
    abandons = [client.post(f"/v1/studies/{sid}/trials/{c['id']}/abandon") for _ in range(2)]
    assert [r.status_code for r in abandons] == [200, 200]
    assert client.post(f"/v1/studies/{sid}/observe",
                       json={"trial_id": c["id"], "values": {"loss": 1.0}}).status_code == 409
    counts = client.get(f"/v1/studies/{sid}").json()["trial_counts"]
    assert (counts["completed"], counts["failed"], counts["abandoned"]) == (1, 1, 1)


def test_create_returns_the_existing_study_of_that_name_or_names_the_difference(client):
    sid = _study(client)
    same = client.post("/v1/studies", json=BODY)
    assert same.status_code == 200 and same.json()["id"] == sid
    different = client.post("/v1/studies", json={**BODY, "surrogate": "gp"})
    assert different.status_code == 409 and "surrogate" in different.json()["detail"]
    assert "'gp'" in different.json()["detail"]
    seeded = client.post("/v1/studies", json={**BODY, "seed": 123})  # the stored seed was drawn at random
    assert seeded.status_code == 409 and "seed" in seeded.json()["detail"]
    listed = client.get("/v1/studies", params={"name": "resume-me"}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == sid
    assert client.get("/v1/studies", params={"name": "nope"}).json()["total"] == 0


def test_sdk_create_study_load_if_exists(sdk):
    study = sdk.create_study("resume-me", SPACE, objective="loss", surrogate="random")
    with pytest.raises(ConflictError, match="load_if_exists"):
        sdk.create_study("resume-me", SPACE, objective="loss", surrogate="random")
    assert sdk.create_study("resume-me", SPACE, objective="loss", surrogate="random", load_if_exists=True).id == study.id
    with pytest.raises(ConflictError, match="objectives"):
        sdk.create_study("resume-me", SPACE, objective="accuracy", surrogate="random", load_if_exists=True)
    assert sdk.get_study_by_name("resume-me").id == study.id


def test_suggest_with_a_client_id_returns_the_trials_it_holds(client):
    sid = _study(client)
    first = client.post(f"/v1/studies/{sid}/suggest", json={"count": 2, "client_id": "lab-pc"}).json()["trials"]
    again = client.post(f"/v1/studies/{sid}/suggest", json={"count": 2, "client_id": "lab-pc"}).json()["trials"]
    assert [t["id"] for t in again] == [t["id"] for t in first]
    client.post(f"/v1/studies/{sid}/observe", json={"trial_id": first[0]["id"], "values": {"loss": 1.0}})
    rest = client.post(f"/v1/studies/{sid}/suggest", json={"count": 2, "client_id": "lab-pc"}).json()["trials"]
    assert [t["id"] for t in rest] == [first[1]["id"]]
    other = client.post(f"/v1/studies/{sid}/suggest", json={"count": 1, "client_id": "gpu-box"}).json()["trials"]
    assert other[0]["id"] not in {t["id"] for t in first}
    assert client.get(f"/v1/studies/{sid}").json()["trial_counts"]["pending"] == 2


def test_optimize_by_name_continues_to_n_trials_and_evaluates_held_trials_first(sdk):
    study = sdk.create_study("resume-me", SPACE, objective="loss", surrogate="random")
    sdk.optimize(loss, "resume-me", n_trials=3, progress=False, client_id="box")
    held = sdk.suggest(study, count=2, client_id="box#0")  # as if a run was killed holding these
    evaluated: list[dict] = []

    def recorded(params: dict) -> float:
        evaluated.append(params)
        return loss(params)

    sdk.optimize(recorded, "resume-me", n_trials=6, progress=False, client_id="box")
    trials = sdk.trials(study)
    assert [t.state for t in trials].count("completed") == 6 and len(evaluated) == 3
    assert evaluated[:2] == [t.params for t in held]
    assert all(t.state != "pending" for t in trials)
    sdk.optimize(recorded, study, n_trials=6, progress=False, client_id="box")  # nothing left to do
    assert len(evaluated) == 3
