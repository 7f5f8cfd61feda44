"""The REST flow through the app on both database back ends."""

from __future__ import annotations

import math

SPACE = [
    {"name": "lr", "type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    {"name": "layers", "type": "int", "low": 1, "high": 4},
    {"name": "act", "type": "categorical", "choices": ["relu", "tanh"]},
]


def test_study_crud_and_trial_lifecycle(any_client):
    client = any_client
    created = client.post(
        "/v1/studies",
        json={"name": "net", "parameters": SPACE, "objectives": [{"name": "err", "goal": "minimize"}], "surrogate": "random", "seed": 3},
    )
    assert created.status_code == 201, created.text
    study = created.json()
    assert study["initial_design_size"] == 6 and study["lease_seconds"] == 3600
    sid = study["id"]
    assert client.get(f"/v1/studies/{sid}").json()["name"] == "net"
    listing = client.get("/v1/studies").json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == sid

    trials = client.post(f"/v1/studies/{sid}/suggest", json={"count": 4, "client_id": "w1"}).json()["trials"]
    assert len(trials) == 4 and all(t["state"] == "pending" and t["lease_expires_at"] for t in trials)
    for t in trials:
        assert 1e-4 <= t["params"]["lr"] <= 1e-1 and isinstance(t["params"]["layers"], int)

    done = client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trials[0]["id"], "values": {"err": 0.25}})
    assert done.status_code == 200 and done.json()["state"] == "completed"
    again = client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trials[0]["id"], "values": {"err": 0.1}})
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert client.post(f"/v1/studies/{sid}/trials/{trials[1]['id']}/fail", json={"reason": "OOM"}).json()["state"] == "failed"
    assert client.post(f"/v1/studies/{sid}/trials/{trials[2]['id']}/abandon").json()["state"] == "abandoned"
    beat = client.post(f"/v1/studies/{sid}/trials/{trials[3]['id']}/heartbeat")
    assert beat.status_code == 200 and beat.json()["lease_expires_at"] >= trials[3]["lease_expires_at"]
    warm = client.post(
        f"/v1/studies/{sid}/observe", json={"params": {"lr": 0.01, "layers": 2, "act": "tanh"}, "values": {"err": 0.05}}
    )
    assert warm.status_code == 200 and warm.json()["source"] == "external"

    best = client.get(f"/v1/studies/{sid}/best").json()
    assert best["values"] == {"err": 0.05}
    completed = client.get(f"/v1/studies/{sid}/trials", params={"state": "completed"}).json()
    assert completed["total"] == 2
    counts = client.get(f"/v1/studies/{sid}").json()["trial_counts"]
    assert counts == {"pending": 1, "completed": 2, "failed": 1, "abandoned": 1, "expired": 0, "early_stopped": 0, "queued": 0}

    assert client.delete(f"/v1/studies/{sid}").status_code == 204
    assert client.get(f"/v1/studies/{sid}").status_code == 404


def test_gp_study_suggests_and_predicts(any_client):
    client = any_client
    space = [{"name": "x", "type": "float", "low": -2.0, "high": 2.0}, {"name": "y", "type": "float", "low": -2.0, "high": 2.0}]
    sid = client.post(
        "/v1/studies",
        json={"name": "quad", "parameters": space, "objectives": [{"name": "f"}], "initial_design_size": 5, "seed": 1},
    ).json()["id"]
    for _ in range(8):
        (trial,) = client.post(f"/v1/studies/{sid}/suggest", json={}).json()["trials"]
        p = trial["params"]
        value = (p["x"] - 0.5) ** 2 + (p["y"] + 0.3) ** 2
        assert client.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"f": value}}).status_code == 200
    batch = client.post(f"/v1/studies/{sid}/suggest", json={"count": 3}).json()["trials"]
    assert len(batch) == 3 and len({(t["params"]["x"], t["params"]["y"]) for t in batch}) == 3
    assert {t["number"] for t in batch} == {8, 9, 10}
    prediction = client.post(f"/v1/studies/{sid}/predict", json={"points": [{"x": 0.5, "y": -0.3}, {"x": -2.0, "y": 2.0}]})
    assert prediction.status_code == 200, prediction.text
    body = prediction.json()
    assert body["objective"] == "f" and len(body["mean"]) == 2
    assert all(math.isfinite(m) and s > 0 for m, s in zip(body["mean"], body["sd"]))
    assert body["mean"][0] < body["mean"][1]  # in objective units: the far corner is much worse


def test_health(any_client):
    assert any_client.get("/healthz").json() == {"status": "ok"}
    assert any_client.get("/readyz").json() == {"status": "ok", "database": "ok"}
