"""The ``prune`` job kind through the job API (TestClient, local back end) and its 422s."""

from __future__ import annotations

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load

from service.jobs.model_specs import parse_model_spec
from service.jobs.networks import build_network
from tests.jobs.conftest import finished, wait_for

SMALL = {"epochs": 4, "lr": 0.01, "sparsities": [0.5, 0.9], "export_sparsity": 0.9, "tune_steps": 5}


def _run(client: TestClient, model: dict, config: dict, dataset: str = "sklearn:digits") -> tuple[dict, dict]:
    response = client.post("/v1/jobs", json={"kind": "prune", "dataset": dataset, "task": "classification",
                                             "model": model, "config": config})
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"], finished, timeout=120)
    assert job["state"] == "succeeded", job["error"]
    return job, client.get(f"/v1/jobs/{job['id']}/result").json()


def test_map_prune_job_end_to_end(job_client: TestClient) -> None:
    config = {**SMALL, "baseline": "map", "structure": "diag", "prior": "layerwise", "criteria": ["opd", "magnitude"],
              "finetune_epochs": 1}
    job, body = _run(job_client, {"kind": "mlp", "hidden": [16]}, config)
    result = body["result"]
    assert job["progress"] == 1.0
    assert [(r["criterion"], r["sparsity"]) for r in result["table"]] == \
        [("opd", 0.5), ("opd", 0.9), ("magnitude", 0.5), ("magnitude", 0.9)]
    n_params = 64 * 16 + 16 + 16 * 10 + 10
    n_prunable = 64 * 16 + 16
    for row in result["table"]:
        assert row["training"] == "map" and 0.0 <= row["accuracy"] <= 1.0
        assert row["n_params"] == n_params and row["n_nonzero"] == n_params - round(row["sparsity"] * n_prunable)
    assert result["dense"]["n_params"] == n_params and result["dense"]["accuracy"] > 0.5
    assert result["log_marginal_likelihood"] < 0
    names = {a["name"] for a in body["artifacts"]}
    assert names == {"curves.png", "pruned-opd.safetensors", "pruned-opd.json", "pruned-magnitude.safetensors",
                     "pruned-magnitude.json"}
    png = job_client.get(f"/v1/jobs/{job['id']}/artifacts/curves.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    weights = load(job_client.get(f"/v1/jobs/{job['id']}/artifacts/pruned-opd.safetensors").content)
    zeros = int((weights["0.weight"] == 0).sum() + (weights["0.bias"] == 0).sum())
    assert zeros == round(0.9 * n_prunable) and int((weights["2.weight"] == 0).sum()) == 0


def test_structured_marglik_prune_job_exports_a_smaller_network(job_client: TestClient) -> None:
    pytest.importorskip("bdl_core.marglik")
    config = {**SMALL, "baseline": "marglik", "structured": True, "criteria": ["opd"], "marglik_frequency": 2,
              "burnin_epochs": 1, "hyper_steps": 2}
    model = {"kind": "cnn", "channels": [4], "hidden": [8]}
    job, body = _run(job_client, model, config)
    result = body["result"]
    assert result["training"] == "marglik" and result["structured"]
    rows = result["table"]
    assert rows[0]["n_params"] > rows[1]["n_params"]  # the deployed network shrinks
    metadata = job_client.get(f"/v1/jobs/{job['id']}/artifacts/pruned-opd-small.json").json()
    spec = parse_model_spec(metadata["model"])
    assert spec.channels == [1] and spec.hidden == [1]  # round(0.9 * 4) = 4 units, but one is always kept
    small = build_network(spec, 64, 10)
    small.load_state_dict(load(job_client.get(f"/v1/jobs/{job['id']}/artifacts/pruned-opd-small.safetensors").content))
    dense = build_network(parse_model_spec(model), 64, 10)
    dense.load_state_dict(load(job_client.get(f"/v1/jobs/{job['id']}/artifacts/pruned-opd.safetensors").content))
    x = torch.randn(5, 64)
    assert torch.allclose(small(x), dense(x), atol=1e-5)
    assert sum(p.numel() for p in small.parameters()) == rows[1]["n_params"]


@pytest.mark.parametrize(
    ("config", "field", "fragment"),
    [
        ({"sparsities": [0.5, 1.0]}, "config.sparsities", "strictly between 0 and 1"),
        ({"sparsities": [0.0]}, "config.sparsities", "strictly between 0 and 1"),
        ({"criteria": ["opd", "obd"]}, "config.criteria.1", "'opd', 'magnitude', 'random', 'snip' or 'grasp'"),
        ({"structured": True, "prune_output_layer": True}, "config.prune_output_layer", "never removes output"),
        ({"export_sparsity": 1.5}, "config.export_sparsity", "less than 1"),
        ({"baseline": "adam"}, "config.baseline", "config.baseline"),
    ],
)
def test_invalid_prune_configs_are_422_naming_the_field(job_client: TestClient, config: dict, field: str,
                                                        fragment: str) -> None:
    response = job_client.post("/v1/jobs", json={"kind": "prune", "dataset": "sklearn:digits",
                                                 "task": "classification", "config": config})
    assert response.status_code == 422, response.text
    error = response.json()
    assert fragment in error["detail"] and error["errors"][0]["loc"] == ["body", *field.split(".")]


def test_prune_config_defaults_are_the_issue_s() -> None:
    from service.jobs.kinds.prune import PruneJobConfig

    config = PruneJobConfig()
    assert config.sparsities == [0.2, 0.4, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99]
    assert (config.prior, config.structure, config.structured, config.finetune_epochs, config.baseline) == \
        ("unitwise", "kron", False, 0, "marglik")


def test_sdk_prune_merges_one_job_per_training(job_client: TestClient) -> None:
    pytest.importorskip("bdl_core.marglik")
    from service.sdk import Client, ValidationError

    sdk = Client(http_client=job_client)
    report = sdk.prune("sklearn:wine", model={"kind": "mlp", "hidden": [8]}, training=["map", "marglik"],
                       criteria=["opd", "random"], sparsities=[0.3, 0.6], progress=False, poll_interval=0.05,
                       timeout=120, config={"epochs": 3, "tune_steps": 2, "burnin_epochs": 1,
                                            "marglik_frequency": 1, "hyper_steps": 2, "export_sparsity": 0.6})
    assert set(report.jobs) == {"map", "marglik"} and report.metric == "accuracy"
    assert len(report.rows) == 2 * 2 * 2 and all(set(report.log_marginal_likelihood.values()))
    sparsity, accuracy = report.curve("opd", training="marglik")
    assert sparsity == [0.3, 0.6] and all(0.0 <= a <= 1.0 for a in accuracy)
    assert report.to_markdown().count("\n") == 2 + 4 - 1
    assert "curves.png" in report.artifacts["map"]
    with pytest.raises(ValidationError) as error:
        sdk.prune("sklearn:wine", sparsities=[0.5, 2.0], progress=False)
    assert error.value.errors[0]["loc"] == ["body", "config", "sparsities"]


def test_regression_prune_job_reports_rmse(job_client: TestClient) -> None:
    response = job_client.post("/v1/jobs", json={
        "kind": "prune", "dataset": "sklearn:diabetes", "task": "regression", "model": {"kind": "mlp", "hidden": [8]},
        "config": {**SMALL, "baseline": "map", "criteria": ["grasp", "snip"], "structured": True}})
    assert response.status_code == 202, response.text
    job = wait_for(job_client, response.json()["id"], finished, timeout=120)
    assert job["state"] == "succeeded", job["error"]
    result = job_client.get(f"/v1/jobs/{job['id']}/result").json()["result"]
    assert result["metric"] == "rmse" and set(result["dense"]) >= {"rmse", "nll", "n_params", "flops_dense"}
    assert all(r["rmse"] > 0 and "accuracy" not in r for r in result["table"])
    assert [r["n_params"] for r in result["table"][:2]] == [10 * 4 + 4 + 4 + 1, 10 * 1 + 1 + 1 + 1]
