"""The ``laplace`` job with ``prior_tuning: "validation"`` (local back end, SQLite)."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from tests.jobs.conftest import finished, wait_for


def _run(client: TestClient, **body) -> tuple[dict, dict]:
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"], finished)
    result = client.get(f"/v1/jobs/{job['id']}/result").json().get("result") if job["state"] == "succeeded" else None
    return job, result


def test_classification_prior_is_the_grid_value_with_the_lowest_validation_nll(job_client: TestClient) -> None:
    job, result = _run(job_client, kind="laplace", dataset="sklearn:wine", task="classification",
                       model={"kind": "mlp", "hidden": [16]},
                       config={"epochs": 30, "lr": 0.01, "prior_tuning": "validation"})
    assert job["state"] == "succeeded", job["error"]
    assert job["progress"] == 1.0 and result["prior_tuning"] == "validation"
    validation = result["validation"]
    n_pool = 178 - result["n_test"]
    assert validation["n_validation"] == round(0.2 * n_pool) and result["n_train"] == n_pool - validation["n_validation"]
    assert len(validation["grid"]) == len(validation["nll"]) == 41
    best = validation["grid"][min(range(41), key=lambda i: validation["nll"][i])]
    # layerwise prior: every group gets the chosen scalar
    assert result["prior_precision"] == pytest.approx([best] * 4)
    assert result["tuning_trace"] == []  # no evidence steps for classification
    assert math.isfinite(result["laplace"]["nll"])


def test_regression_tunes_the_noise_by_evidence_then_the_prior_on_validation(job_client: TestClient) -> None:
    job, result = _run(job_client, kind="laplace", dataset="sklearn:diabetes", task="regression",
                       model={"kind": "mlp", "hidden": [8]},
                       config={"epochs": 10, "lr": 0.01, "prior": "scalar", "tune_steps": 10,
                               "prior_tuning": "validation", "validation_fraction": 0.25})
    assert job["state"] == "succeeded", job["error"]
    assert len(result["tuning_trace"]) == 10 and result["sigma_noise"] > 0
    validation = result["validation"]
    best = validation["grid"][min(range(41), key=lambda i: validation["nll"][i])]
    assert result["prior_precision"] == pytest.approx(best)


def test_a_validation_split_leaving_no_training_rows_fails_with_a_message(job_client: TestClient) -> None:
    job, _ = _run(job_client, kind="laplace", dataset="sklearn:wine", task="classification",
                  model={"kind": "mlp", "hidden": [4]},
                  config={"epochs": 1, "prior_tuning": "validation", "validation_fraction": 0.999})
    assert job["state"] == "failed"
    assert "config.validation_fraction" in job["error"]


@pytest.mark.parametrize("config, field", [({"prior_tuning": "cv"}, "prior_tuning"),
                                           ({"validation_fraction": 1.5}, "validation_fraction")])
def test_bad_tuning_settings_are_422(job_client: TestClient, config: dict, field: str) -> None:
    response = job_client.post("/v1/jobs", json={"kind": "laplace", "dataset": "sklearn:wine",
                                                 "task": "classification", "config": config})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "config", field]
