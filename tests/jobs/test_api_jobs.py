"""The job API end to end on the local back end (SQLite, in-process TestClient)."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load
from sqlalchemy import select

from service.api.app import create_app
from service.datasets.builtin import load_builtin
from service.db import Database
from service.db.job_models import JobRecord
from service.db.types import utcnow
from service.jobs import attempts
from service.jobs.data import make_splits
from service.jobs.model_specs import parse_model_spec
from service.jobs.networks import build_network
from tests.jobs.conftest import finished, make_settings, wait_for


def _submit(client: TestClient, **body) -> dict:
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    return response.json()


def test_laplace_classification_job_end_to_end(job_client: TestClient) -> None:
    job = _submit(job_client, kind="laplace", dataset="sklearn:wine", task="classification",
                  model={"kind": "mlp", "hidden": [16]}, config={"epochs": 30, "tune_steps": 20, "lr": 0.01})
    assert job["state"] == "queued" and job["config"]["structure"] == "kron"
    job = wait_for(job_client, job["id"], finished)
    assert job["state"] == "succeeded", job["error"]
    assert job["progress"] == 1.0 and job["attempt"] == 1 and math.isfinite(job["log_marglik"])

    body = job_client.get(f"/v1/jobs/{job['id']}/result").json()
    result = body["result"]
    assert body["attempt"] == 1 and {a["name"] for a in body["artifacts"]} == {
        "weights.safetensors", "weights.json", "posterior.safetensors", "reliability.png", "evidence.png"}
    beats = result["laplace_beats_map"]
    assert beats == {"nll": result["laplace"]["nll"] < result["map"]["nll"],
                     "ece": result["laplace"]["ece"] < result["map"]["ece"]}
    assert (result["advice"] is None) == beats["nll"]
    png = job_client.get(f"/v1/jobs/{job['id']}/artifacts/reliability.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["n_train"] + result["n_test"] == 178 and result["n_test"] == round(0.2 * 178)
    for predictive in ("map", "laplace"):
        metrics = result[predictive]
        assert 0.0 <= metrics["accuracy"] <= 1.0 and 0.0 <= metrics["ece"] <= 1.0 and metrics["nll"] > 0.0
    assert result["log_marginal_likelihood"] >= result["log_marginal_likelihood_before_tuning"]
    assert len(result["prior_precision"]) == 4  # layerwise: one per weight and bias tensor of the 2-layer MLP
    assert result["map"]["accuracy"] > 0.8  # wine is easy

    # the artifacts rebuild the network, and it reproduces the reported MAP test accuracy
    weights = load(job_client.get(f"/v1/jobs/{job['id']}/artifacts/weights.safetensors").content)
    metadata = job_client.get(f"/v1/jobs/{job['id']}/artifacts/weights.json").json()
    network = build_network(parse_model_spec(metadata["model"]), metadata["n_features"], metadata["n_outputs"])
    network.load_state_dict(weights)
    table = load_builtin("sklearn:wine")
    splits = make_splits(table, "target", "classification", test_fraction=0.2, seed=0, dtype=torch.float32,
                         device="cpu")
    raw_test = splits.x_test * torch.tensor(splits.x_std, dtype=torch.float32) + torch.tensor(splits.x_mean)
    inputs = (raw_test - torch.tensor(metadata["x_mean"])) / torch.tensor(metadata["x_std"])
    with torch.no_grad():
        accuracy = (network(inputs.float()).argmax(1) == splits.y_test).float().mean().item()
    assert accuracy == pytest.approx(result["map"]["accuracy"], abs=1e-6)


def test_laplace_regression_job_reports_rmse_and_noise(job_client: TestClient) -> None:
    job = _submit(job_client, kind="laplace", dataset="sklearn:diabetes", task="regression",
                  model={"kind": "mlp", "hidden": [8]},
                  config={"epochs": 10, "structure": "diag", "prior": "scalar", "tune_steps": 10, "lr": 0.01})
    job = wait_for(job_client, job["id"], finished)
    assert job["state"] == "succeeded", job["error"]
    result = job_client.get(f"/v1/jobs/{job['id']}/result").json()["result"]
    assert result["sigma_noise"] > 0 and isinstance(result["prior_precision"], float)
    for predictive in ("map", "laplace"):
        assert set(result[predictive]) == {"nll", "rmse"}
        assert 30.0 < result[predictive]["rmse"] < 120.0  # in the target's units (std of diabetes: ~77)


def test_marglik_job_chooses_a_candidate_by_marginal_likelihood(job_client: TestClient) -> None:
    pytest.importorskip("bdl_core.marglik")
    candidates = [{"model": {"kind": "mlp", "hidden": [8]}}, {"model": {"kind": "mlp", "hidden": [16]},
                                                               "prior": "scalar", "name": "wide"}]
    job = _submit(job_client, kind="marglik", dataset="sklearn:wine", task="classification",
                  config={"candidates": candidates, "epochs": 6, "marglik_frequency": 2, "burnin_epochs": 2,
                          "hyper_steps": 3})
    job = wait_for(job_client, job["id"], finished, timeout=120)
    assert job["state"] == "succeeded", job["error"]
    result = job_client.get(f"/v1/jobs/{job['id']}/result").json()["result"]
    reports = result["candidates"]
    assert [r["name"] for r in reports][1] == "wide" and len(reports) == 2
    lmls = [r["log_marginal_likelihood"] for r in reports]
    assert result["chosen_index"] == lmls.index(max(lmls)) and result["chosen"] == reports[result["chosen_index"]]["name"]
    for report in reports:
        history = report["history"]
        assert history["epochs_run"] == 6 and len(history["loss"]) == 6 and history["marglik_epochs"] == [2, 4, 6]
        assert history["log_marginal_likelihood"][-1] == pytest.approx(report["log_marginal_likelihood"], rel=1e-4)
        assert 0.0 <= report["laplace"]["accuracy"] <= 1.0 and 0.0 <= report["map"]["ece"] <= 1.0
    assert result["best_on_test"] in [r["name"] for r in reports]
    assert job_client.get(f"/v1/jobs/{job['id']}/artifacts/weights.safetensors").status_code == 200


def test_a_running_marglik_job_stops_at_its_next_epoch_when_cancelled(job_client: TestClient) -> None:
    pytest.importorskip("bdl_core.marglik")
    job = _submit(job_client, kind="marglik", dataset="sklearn:wine", task="classification",
                  model={"kind": "mlp", "hidden": [8]}, config={"epochs": 100_000, "burnin_epochs": 100_000})
    running = wait_for(job_client, job["id"], lambda j: (j["epoch"] or 0) >= 2, timeout=60)
    assert running["state"] == "running"
    job_client.post(f"/v1/jobs/{job['id']}/cancel")
    cancelled = wait_for(job_client, job["id"], finished, timeout=30)
    assert cancelled["state"] == "cancelled" and cancelled["epoch"] < 100_000


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"kind": "pruning"}, "kind", "unknown job kind 'pruning'"),
        ({"config": {"epochs": 1, "bogus": 2}}, "config.bogus", "config.bogus: unknown field"),
        ({"config": {"structure": "dense"}}, "config.structure", "config.structure"),
        ({"model": {"kind": "mlp", "hidden": "wide"}}, "model.hidden", "model.hidden"),
        ({"dataset": "sklearn:mnist"}, "dataset", "dataset 'sklearn:mnist' not found"),
        ({"target": "nope"}, "target", "column 'nope'"),
    ],
)
def test_invalid_job_requests_are_422_naming_the_field(job_client: TestClient, body: dict, field: str,
                                                       fragment: str) -> None:
    request = {"kind": "laplace", "dataset": "sklearn:wine", "task": "classification", **body}
    response = job_client.post("/v1/jobs", json=request)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == "validation_error" and fragment in error["detail"]
    assert error["errors"][0]["loc"] == ["body", *field.split(".")]


def test_unknown_top_level_field_and_bad_task_are_422(job_client: TestClient) -> None:
    response = job_client.post("/v1/jobs", json={"kind": "laplace", "dataset": "sklearn:wine", "task": "ranking"})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "task"]
    response = job_client.post("/v1/jobs", json={"kind": "laplace", "dataset": "sklearn:wine",
                                                 "task": "regression", "epochs": 3})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "epochs"]


def test_a_failing_job_records_the_error_and_has_no_result(job_client: TestClient) -> None:
    job = _submit(job_client, kind="test_sleep", dataset="sklearn:wine", task="classification",
                  config={"fail_with": "the data is cursed"})
    job = wait_for(job_client, job["id"], finished)
    assert job["state"] == "failed" and job["error"] == "RuntimeError: the data is cursed"
    response = job_client.get(f"/v1/jobs/{job['id']}/result")
    assert response.status_code == 409 and "cursed" in response.json()["detail"]
    assert job_client.get(f"/v1/jobs/{job['id']}/artifacts/out.json").status_code == 404
    assert job_client.get("/v1/jobs/nope").status_code == 404


def test_cancel_a_running_job_releases_its_worker(job_client: TestClient) -> None:
    slow = _submit(job_client, kind="test_sleep", dataset="sklearn:wine", task="classification",
                   config={"steps": 400, "step_seconds": 0.05})
    running = wait_for(job_client, slow["id"], lambda j: j["state"] == "running" and j["epoch"])
    assert 0 < running["progress"] < 1
    response = job_client.post(f"/v1/jobs/{slow['id']}/cancel")
    assert response.status_code == 200 and response.json()["cancel_requested"]
    cancelled = wait_for(job_client, slow["id"], finished)
    assert cancelled["state"] == "cancelled" and cancelled["progress"] < 1
    assert job_client.post(f"/v1/jobs/{slow['id']}/cancel").status_code == 409
    after = _submit(job_client, kind="test_sleep", dataset="sklearn:wine", task="classification")
    assert wait_for(job_client, after["id"], finished)["state"] == "succeeded"  # the single worker is free again


def test_jobs_listing_filters_by_state_and_kind(job_client: TestClient) -> None:
    ids = [_submit(job_client, kind="test_sleep", dataset="sklearn:wine", task="classification")["id"]
           for _ in range(2)]
    for job_id in ids:
        wait_for(job_client, job_id, finished)
    page = job_client.get("/v1/jobs", params={"state": "succeeded", "kind": "test_sleep"}).json()
    assert page["total"] == 2 and {j["id"] for j in page["items"]} == set(ids)
    assert job_client.get("/v1/jobs", params={"kind": "laplace"}).json()["total"] == 0
    assert job_client.get("/v1/jobs", params={"state": "bogus"}).status_code == 422


def test_queued_jobs_cancel_at_once_and_survive_a_restart(sqlite_database: Database, tmp_path) -> None:
    idle = create_app(make_settings(tmp_path, local_workers=0), database=sqlite_database)
    with TestClient(idle) as client:
        kept = _submit(client, kind="test_sleep", dataset="sklearn:wine", task="classification")
        dropped = _submit(client, kind="test_sleep", dataset="sklearn:wine", task="classification")
        assert client.post(f"/v1/jobs/{dropped['id']}/cancel").json()["state"] == "cancelled"
        assert client.get(f"/v1/jobs/{kept['id']}").json()["state"] == "queued"
    working = create_app(make_settings(tmp_path), database=sqlite_database)
    with TestClient(working) as client:  # the new pool picks up the job the database holds as queued
        assert wait_for(client, kept["id"], finished)["state"] == "succeeded"
        assert client.get(f"/v1/jobs/{dropped['id']}").json()["state"] == "cancelled"


def test_the_reaper_requeues_the_job_of_a_lost_worker(sqlite_database: Database, tmp_path) -> None:
    settings = make_settings(tmp_path, job_reaper_timeout_seconds=1.0)
    app = create_app(settings, database=sqlite_database)
    with TestClient(app) as client:
        idle = create_app(make_settings(tmp_path, local_workers=0), database=sqlite_database)
        with TestClient(idle) as submitter:
            job = _submit(submitter, kind="test_sleep", dataset="sklearn:wine", task="classification")
        # the job is delivered to a worker that dies right after claiming it
        with sqlite_database.write() as session:
            session.get(JobRecord, job["id"]).state = "queued"
        assert attempts.claim(sqlite_database, job["id"], worker="doomed", stale_after=timedelta(seconds=1)).attempt == 1
        with sqlite_database.write() as session:
            session.get(JobRecord, job["id"]).heartbeat_at = utcnow() - timedelta(seconds=5)
        done = wait_for(client, job["id"], finished)
        assert done["state"] == "succeeded" and done["attempt"] == 2
        assert client.get(f"/v1/jobs/{job['id']}/result").json()["result"]["attempt"] == 2


class _BrokenBackend:
    name = "broken"

    def start(self) -> None:
        pass

    def dispatch(self, job_id: str, queue: str) -> None:
        raise ConnectionError("broker down")

    def stop(self) -> None:
        pass


def test_an_undeliverable_job_is_503_and_marked_failed(sqlite_database: Database, tmp_path) -> None:
    app = create_app(make_settings(tmp_path), database=sqlite_database, job_backend=_BrokenBackend())
    with TestClient(app) as client:
        response = client.post("/v1/jobs", json={"kind": "test_sleep", "dataset": "sklearn:wine",
                                                 "task": "classification"})
        assert response.status_code == 503 and response.json()["code"] == "unavailable"
        assert response.headers["Retry-After"] == "5"
    with sqlite_database.read() as session:
        states = session.execute(select(JobRecord.state, JobRecord.error)).all()
    assert len(states) == 1 and states[0][0] == "failed" and "broker" in states[0][1]


def test_openapi_documents_the_job_and_dataset_routes(job_client: TestClient) -> None:
    paths = job_client.get("/openapi.json").json()["paths"]
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/result", "/v1/jobs/{job_id}/artifacts/{name}",
            "/v1/jobs/{job_id}/cancel", "/v1/datasets", "/v1/datasets/{dataset_id}"} <= set(paths)
    upload = paths["/v1/datasets"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    assert json.loads(json.dumps(upload))["multipart/form-data"]["schema"]["required"] == ["file"]
