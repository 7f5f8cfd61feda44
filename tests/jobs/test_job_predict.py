"""``POST /v1/jobs/{id}/predict``: a succeeded job's posterior predicts with uncertainty, matching a
posterior rebuilt by hand from the job's artifacts."""

from __future__ import annotations

import json

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load

from bdl_core.laplace import KronLaplace
from service.datasets.builtin import load_builtin
from service.jobs.data import make_splits
from service.jobs.model_specs import parse_model_spec
from service.jobs.networks import build_network
from service.sdk import Client
from tests.jobs.conftest import finished, wait_for


def _run(client: TestClient, **body) -> dict:
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"], finished, timeout=120)
    assert job["state"] == "succeeded", job["error"]
    return job


def _rebuilt(client: TestClient, job: dict) -> tuple[torch.nn.Module, KronLaplace, dict, torch.Tensor]:
    info = json.loads(client.get(f"/v1/jobs/{job['id']}/artifacts/weights.json").content)
    weights = load(client.get(f"/v1/jobs/{job['id']}/artifacts/weights.safetensors").content)
    hyper = load(client.get(f"/v1/jobs/{job['id']}/artifacts/posterior.safetensors").content)
    network = build_network(parse_model_spec(info["model"]), info["n_features"], info["n_outputs"])
    network.load_state_dict(weights)
    splits = make_splits(load_builtin(job["dataset"]), job["target"], job["task"], test_fraction=0.2, seed=0,
                         dtype=torch.float32, device="cpu")
    n_train = info["laplace"]["n_train"]
    la = KronLaplace(network, job["task"], prior="layerwise", prior_precision=hyper["prior_precision"],
                     sigma_noise=hyper["sigma_noise"][0] if job["task"] == "regression" else 1.0)
    la.fit(splits.x_train[:n_train], splits.y_train[:n_train])
    raw = splits.x_test[:5] * torch.tensor(info["x_std"]) + torch.tensor(info["x_mean"])
    return network, la, info, raw


def test_a_regression_job_predicts_mean_and_std_in_target_units(job_client: TestClient) -> None:
    job = _run(job_client, kind="laplace", dataset="sklearn:diabetes", task="regression",
               model={"kind": "mlp", "hidden": [16]}, config={"epochs": 20, "tune_steps": 10, "plots": False})
    _, la, info, raw = _rebuilt(job_client, job)
    prediction = Client(http_client=job_client).predict_job(job["id"], raw.tolist())
    x = (raw - torch.tensor(info["x_mean"])) / torch.tensor(info["x_std"])
    with torch.no_grad():
        mean, variance = la.predict(x, observation_noise=True)
    assert prediction.mean == pytest.approx((mean[:, 0] * info["y_std"] + info["y_mean"]).tolist(), rel=1e-4)
    assert prediction.std == pytest.approx((variance[:, 0].sqrt() * info["y_std"]).tolist(), rel=1e-4)
    assert all(s > 0 for s in prediction.std)


def test_a_classification_job_predicts_probabilities_and_bad_rows_are_422(job_client: TestClient) -> None:
    job = _run(job_client, kind="laplace", dataset="sklearn:wine", task="classification",
               model={"kind": "mlp", "hidden": [16]}, config={"epochs": 20, "tune_steps": 10, "plots": False,
                                                             "prior_tuning": "auto"})
    _, la, info, raw = _rebuilt(job_client, job)
    body = job_client.post(f"/v1/jobs/{job['id']}/predict", json={"rows": raw.tolist()}).json()
    x = (raw - torch.tensor(info["x_mean"])) / torch.tensor(info["x_std"])
    with torch.no_grad():
        expected = la.predict(x)
    assert body["classes"] == info["classes"] and torch.allclose(torch.tensor(body["probabilities"]), expected,
                                                                  atol=1e-5)
    bad = job_client.post(f"/v1/jobs/{job['id']}/predict", json={"rows": [[1.0, 2.0]]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "rows"]
