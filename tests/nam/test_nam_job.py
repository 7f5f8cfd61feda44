"""The ``nam`` job kind through the job API end to end (in-process app, local back end, SQLite)."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.db import Database
from bdl_core.calibration import auroc
from tests.jobs.conftest import finished, make_settings, wait_for

EFFECTS = {"blue": -0.8, "green": 0.0, "red": 0.8}


@pytest.fixture
def client(sqlite_database: Database, tmp_path) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path), database=sqlite_database)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _csv(n: int, seed: int, classification: bool) -> bytes:
    rng = np.random.default_rng(seed)
    x0, x1, noise = rng.uniform(-2, 2, n), rng.uniform(0, 10, n), rng.normal(size=n)
    colour = rng.choice(sorted(EFFECTS), n)
    signal = np.sin(1.5 * x0) + 0.3 * (x1 - 5) + np.array([EFFECTS[c] for c in colour])
    rows = ["x0,x1,colour,noise,target"]
    if classification:
        target = (rng.uniform(size=n) < 1 / (1 + np.exp(-3 * signal))).astype(int)
    else:
        target = signal + 0.2 * rng.normal(size=n)
    rows += [f"{a:.5f},{b:.5f},{c},{d:.5f},{t}" for a, b, c, d, t in zip(x0, x1, colour, noise, target)]
    return "\n".join(rows).encode()


def _upload(client: TestClient, content: bytes) -> str:
    response = client.post("/v1/datasets", files={"file": ("data.csv", content)}, data={"categorical": "colour"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_nam_regression_job_with_a_categorical_feature_and_an_interaction(client: TestClient) -> None:
    dataset = _upload(client, _csv(300, 0, classification=False))
    response = client.post("/v1/jobs", json={
        "kind": "nam", "dataset": dataset, "task": "regression",
        "model": {"kind": "mlp", "hidden": [16], "activation": "gelu"},
        "config": {"epochs": 40, "batch_size": 64, "interactions": 1, "interaction_epochs": 10, "grid_size": 20}})
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"], finished)
    assert job["state"] == "succeeded", job["error"]
    body = client.get(f"/v1/jobs/{job['id']}/result").json()
    result = body["result"]

    assert [f["name"] for f in result["features"]] == ["x0", "x1", "colour", "noise"]
    assert result["features"][2] == {"name": "colour", "categorical": True, "levels": ["blue", "green", "red"]}
    assert result["architecture"] == {"hidden": [16], "activation": "gelu"}
    assert result["n_train"] == 240 and result["n_test"] == 60
    metrics = result["metrics"]["laplace"]
    assert 0 < metrics["rmse"] < 0.8 and math.isfinite(metrics["nll"])  # the target's std is about 1.2

    shapes = result["shapes"]
    assert len(shapes) == 5 and shapes[-1]["kind"] == "pair"
    x1 = shapes[1]
    assert x1["kind"] == "numerical" and len(x1["grids"][0]) == 20
    assert min(x1["grids"][0]) >= 0.0 and max(x1["grids"][0]) <= 10.0  # original units
    assert all(lo <= m <= up for lo, m, up in zip(x1["lower"], x1["mean"], x1["upper"]))
    slope = (x1["mean"][-1] - x1["mean"][0]) / (x1["grids"][0][-1] - x1["grids"][0][0])
    assert 0.15 < slope < 0.45  # the true effect of x1 is 0.3 per unit
    colour = shapes[2]
    assert colour["kind"] == "categorical" and colour["grids"][0] == [0.0, 1.0, 2.0]
    assert colour["mean"][0] < colour["mean"][1] < colour["mean"][2]

    importances = {imp["label"]: imp for imp in result["importances"]}
    assert importances["noise"]["share"] < importances["x0"]["share"]
    pairs = result["interaction_ranking"]["pairs"]
    assert result["interaction_ranking"]["method"] == "marglik" and len(pairs) == 6
    assert result["added_interactions"] == [pairs[0]["features"]]

    names = {a["name"] for a in body["artifacts"]}
    assert {"importances.png", "nam.safetensors", "nam.json", "shape-02-colour.png"} <= names
    assert sum(name.startswith("shape-") for name in names) == 5
    png = client.get(f"/v1/jobs/{job['id']}/artifacts/shape-00-x0.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    info = client.get(f"/v1/jobs/{job['id']}/artifacts/nam.json").json()
    assert info["terms"][-1] == pairs[0]["features"] and info["features"][2]["n_categories"] == 3


def test_nam_binary_classification_job_reports_auroc(client: TestClient) -> None:
    dataset = _upload(client, _csv(300, 1, classification=True))
    response = client.post("/v1/jobs", json={"kind": "nam", "dataset": dataset, "task": "classification",
                                            "config": {"epochs": 30, "batch_size": 64, "plots": False}})
    job = wait_for(client, response.json()["id"], finished)
    assert job["state"] == "succeeded", job["error"]
    result = client.get(f"/v1/jobs/{job['id']}/result").json()["result"]
    assert result["architecture"] == {"hidden": [64], "activation": "gelu"}
    for predictive in ("laplace", "map"):
        assert 0.75 < result["metrics"][predictive]["auroc"] <= 1.0
    assert result["sigma_noise"] is None and result["added_interactions"] == []


def test_nam_job_rejects_a_cnn_model_and_multiclass_targets(client: TestClient) -> None:
    response = client.post("/v1/jobs", json={"kind": "nam", "dataset": "sklearn:wine", "task": "classification",
                                            "config": {"epochs": 1}})
    # issue 21: an impossible combination is a 422 at submission, not a job that fails when it runs
    assert response.status_code == 422 and "binary classification" in response.json()["detail"]
    response = client.post("/v1/jobs", json={"kind": "nam", "dataset": "sklearn:diabetes", "task": "regression",
                                            "model": {"kind": "cnn"}, "config": {"epochs": 1}})
    job = wait_for(client, response.json()["id"], finished)
    assert job["state"] == "failed" and "mlp" in job["error"]
    response = client.post("/v1/jobs", json={"kind": "nam", "dataset": "sklearn:diabetes", "task": "regression",
                                            "config": {"ranking": "random"}})
    assert response.status_code == 422 and "ranking" in response.text


def test_auroc_matches_pairwise_counting() -> None:
    import torch

    scores = torch.tensor([0.1, 0.4, 0.35, 0.8, 0.4])
    labels = torch.tensor([0, 0, 1, 1, 1])
    pairs = [(p, n) for p in (2, 3, 4) for n in (0, 1)]
    expected = sum(1.0 if scores[p] > scores[n] else 0.5 if scores[p] == scores[n] else 0.0 for p, n in pairs) / 6
    assert auroc(scores, labels) == pytest.approx(expected)


def test_sdk_fit_nam_returns_a_typed_report_and_downloads_the_plots(client: TestClient, tmp_path) -> None:
    from service.sdk import Client
    from service.sdk.errors import BdloptError, ValidationError

    sdk = Client(http_client=client)
    fit = sdk.fit_nam("sklearn:diabetes", task="regression", hidden=[8], epochs=15, interactions=1,
                      config={"interaction_epochs": 5, "grid_size": 10, "batch_size": 64}, progress=False,
                      poll_interval=0.05)
    assert len(fit.importances) == 11 and fit.added_interactions == [fit.interaction_ranking["pairs"][0]["features"]]
    bmi = fit.shape("bmi")
    assert bmi.kind == "numerical" and len(bmi.grids[0]) == 10 and len(bmi.lower) == 10
    assert fit.metrics["laplace"]["rmse"] > 0 and fit.sigma_noise > 0
    assert "| bmi |" in fit.to_markdown() and "top pairs (marglik)" in fit.to_markdown()
    paths = fit.download_plots(sdk, tmp_path / "plots")
    assert len(paths) == 12 and all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    with pytest.raises(KeyError):
        fit.shape("missing")
    with pytest.raises(ValidationError):
        sdk.fit_nam("sklearn:diabetes", ranking="random", progress=False)
    with pytest.raises(BdloptError, match="binary classification"):
        sdk.fit_nam("sklearn:wine", task="classification", epochs=1, progress=False, poll_interval=0.05)
