"""The ``bn_mlp`` network option (Meterez et al. 2024) in jobs: spec validation and a marglik job."""

from __future__ import annotations

import math

import pytest
import torch
from fastapi.testclient import TestClient

from bdl_core.networks import BatchNorm
from service.jobs.model_specs import parse_model_spec
from service.jobs.networks import build_network
from service.errors import InvalidInputError
from tests.jobs.conftest import finished, wait_for


def test_the_spec_builds_the_papers_network() -> None:
    spec = parse_model_spec({"kind": "bn_mlp", "width": 12, "depth": 3})
    assert spec.activation == "linear" and spec.shaping_exponent == 1.0
    network = build_network(spec, 5, 2, dtype=torch.float64, seed=0)
    assert sum(isinstance(m, BatchNorm) for m in network) == 3
    assert network(torch.randn(4, 5, dtype=torch.float64)).shape == (4, 2)
    with pytest.raises(InvalidInputError) as error:
        parse_model_spec({"kind": "bn_mlp", "depth": 0})
    assert error.value.field == "model.depth"


def test_a_marglik_job_trains_a_bn_mlp(job_client: TestClient) -> None:
    model = {"kind": "bn_mlp", "width": 16, "depth": 6, "activation": "tanh"}
    response = job_client.post("/v1/jobs", json={
        "kind": "marglik", "dataset": "sklearn:wine", "task": "classification", "model": model,
        "config": {"epochs": 4, "burnin_epochs": 2, "marglik_frequency": 2, "hyper_steps": 5, "batch_size": 32}})
    assert response.status_code == 202, response.text
    job = wait_for(job_client, response.json()["id"], finished, timeout=120)
    assert job["state"] == "succeeded", job["error"]
    (report,) = job_client.get(f"/v1/jobs/{job['id']}/result").json()["result"]["candidates"]
    assert report["name"].startswith("0:bn_mlp-16x6-tanh")
    assert report["n_params"] == 13 * 16 + 5 * 16 * 16 + 16 * 3 + 3  # batch norm has no parameters
    assert math.isfinite(report["log_marginal_likelihood"]) and 0 <= report["laplace"]["accuracy"] <= 1
