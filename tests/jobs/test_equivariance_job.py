"""The ``equivariance`` job end to end on sklearn:digits (local back end, SQLite), and its 422s."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from tests.jobs.conftest import finished, wait_for

SMALL = {"channels": [2], "epochs": 2, "burnin_epochs": 1, "marglik_frequency": 1, "hyper_steps": 3,
         "batch_size": 256, "test_fraction": 0.5}


def test_the_job_learns_shares_and_compares_against_single_path_networks(job_client: TestClient) -> None:
    response = job_client.post("/v1/jobs", json={"kind": "equivariance", "dataset": "sklearn:digits",
                                                 "task": "classification", "config": SMALL})
    assert response.status_code == 202, response.text
    job = wait_for(job_client, response.json()["id"], finished, timeout=120)
    assert job["state"] == "succeeded", job["error"]
    assert job["progress"] == 1.0 and math.isfinite(job["log_marglik"])
    body = job_client.get(f"/v1/jobs/{job['id']}/result").json()
    result = body["result"]
    assert result["image_shape"] == [1, 8, 8] and result["kfac"] == "reduce"
    (layer,) = result["layers"]
    assert layer["index"] == 0 and 0.0 <= layer["equivariant_share"] <= 1.0 and 0.0 <= layer["output_share"] <= 1.0
    assert layer["conv_params"] == 2 * 9 + 2 and layer["dense_params"] == 64 * 128 + 128
    # the share is the prior-variance ratio of the reported precisions and variances
    assert layer["equivariant_share"] == pytest.approx(
        layer["conv_variance"] / (layer["conv_variance"] + layer["dense_variance"]))
    assert set(layer["conv_precision"]) == set(layer["dense_precision"]) == {"weight", "bias"}
    assert result["evidence_history"]["epochs"] == [1, 2]
    assert len(result["evidence_history"]["log_marginal_likelihood"]) == 2
    networks = result["networks"]
    assert set(networks) == {"learned", "conv_only", "dense_only"}
    for report in networks.values():
        for predictive in ("map", "laplace"):
            assert set(report[predictive]) == {"accuracy", "nll", "ece"}
            assert 0.0 <= report[predictive]["accuracy"] <= 1.0
        assert math.isfinite(report["log_marginal_likelihood"])
    assert networks["learned"]["n_params"] == networks["conv_only"]["n_params"] + networks["dense_only"]["n_params"] - (2 * 10 + 10)  # read-out counted once
    names = {a["name"]: a for a in body["artifacts"]}
    assert set(names) == {"shares.png", "evidence.png", "weights.safetensors", "weights.json"}
    png = job_client.get(f"/v1/jobs/{job['id']}/artifacts/shares.png")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    meta = job_client.get(f"/v1/jobs/{job['id']}/artifacts/weights.json").json()
    assert meta["model"]["paths"] == ["conv", "dense"] and meta["model"]["readout"] == "pool"
    assert len(meta["prior_precision"]) == 6


@pytest.mark.parametrize("config, dataset, field", [
    ({"image_shape": [8, 7]}, "sklearn:digits", "config.image_shape"),       # 56 != 64 pixels
    ({"image_shape": [1, 2, 4, 8]}, "sklearn:digits", "config.image_shape"),  # not 2 or 3 sizes
    ({"image_shape": [0, 64]}, "sklearn:digits", "config.image_shape"),
    ({}, "sklearn:wine", "config.image_shape"),                                # no default for wine
    ({"kernel_size": 4}, "sklearn:digits", "config.kernel_size"),
    ({"channels": [256, 256]}, "sklearn:digits", "config.channels"),           # dense path too large
])
def test_bad_settings_are_422_naming_the_field(job_client: TestClient, config: dict, dataset: str, field: str) -> None:
    response = job_client.post("/v1/jobs", json={"kind": "equivariance", "dataset": dataset,
                                                 "task": "classification", "config": config})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", *field.split(".")]
    assert job_client.get("/v1/jobs").json()["total"] == 0  # nothing half-written


def test_a_running_equivariance_job_stops_when_cancelled(job_client: TestClient) -> None:
    config = {**SMALL, "epochs": 10_000, "burnin_epochs": 10_000}
    response = job_client.post("/v1/jobs", json={"kind": "equivariance", "dataset": "sklearn:digits",
                                                 "task": "classification", "config": config})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    running = wait_for(job_client, job_id, lambda j: (j["epoch"] or 0) >= 1, timeout=60)
    assert running["state"] == "running" and "learned: epoch" in running["message"]
    job_client.post(f"/v1/jobs/{job_id}/cancel")
    cancelled = wait_for(job_client, job_id, finished, timeout=30)
    assert cancelled["state"] == "cancelled" and cancelled["epoch"] < 10_000
