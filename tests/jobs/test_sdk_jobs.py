"""The SDK's job and dataset methods against the real app (local back end, in process)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from safetensors.torch import load

from service.sdk import Client, ConflictError, NotFoundError, PayloadTooLargeError, ValidationError
from service.sdk.job_models import Dataset, Job


@pytest.fixture
def sdk(job_client: TestClient) -> Client:
    return Client(http_client=job_client)


def test_upload_submit_wait_result_and_download(sdk: Client, tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "toy.csv"
    path.write_text("a,b,c,label\n" + "\n".join(f"{r[0]},{r[1]},{r[2]},{t}" for r, t in zip(X, y)))
    dataset = sdk.upload_dataset(path)
    assert isinstance(dataset, Dataset) and (dataset.n_rows, dataset.n_features) == (60, 3)
    assert sdk.dataset(dataset.id).columns == ["a", "b", "c", "label"]

    job = sdk.submit_job("test_sleep", dataset, task="classification", config={"steps": 4})
    assert isinstance(job, Job) and job.state == "queued" and job.target == "label"
    done = sdk.wait(job, progress=True, poll_interval=0.05, timeout=60)
    assert done.state == "succeeded" and done.finished and done.progress == 1.0 and done.epoch == 4
    assert "100%" in capsys.readouterr().err  # the tqdm bar reached the job's progress

    result = sdk.result(done)
    assert result.result == {"attempt": 1, "steps": 4} and [a.name for a in result.artifacts] == ["out.json"]
    assert b'"attempt": 1' in sdk.download_artifact(done, "out.json")
    written = sdk.download_artifact(done.id, "out.json", tmp_path / "out.json")
    assert written.read_text().startswith("{") and not (tmp_path / "out.json.part").exists()
    assert [j.id for j in sdk.jobs(kind="test_sleep").items] == [done.id]


def test_laplace_weights_download_as_safetensors(sdk: Client) -> None:
    job = sdk.submit_job("laplace", "sklearn:wine", task="classification", model={"kind": "mlp", "hidden": [4]},
                         config={"epochs": 2, "tune_steps": 2})
    assert sdk.wait(job, progress=False, poll_interval=0.05, timeout=60).state == "succeeded"
    weights = load(sdk.download_artifact(job, "weights.safetensors"))
    assert weights["0.weight"].shape == (4, 13) and weights["2.weight"].shape == (3, 4)


def test_npz_upload_cancel_and_typed_errors(sdk: Client) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, X=np.arange(20.0).reshape(10, 2), y=np.array(["a", "b"] * 5))
    dataset = sdk.upload_dataset(buffer.getvalue(), filename="toy.npz")
    assert dataset.columns == ["x0", "x1", "y"] and dataset.categorical == ["y"]

    job = sdk.submit_job("test_sleep", dataset.id, task="classification", config={"steps": 400, "step_seconds": 0.05})
    assert sdk.cancel(job).cancel_requested
    assert sdk.wait(job, progress=False, poll_interval=0.05, timeout=30).state == "cancelled"
    with pytest.raises(ConflictError):
        sdk.result(job)
    with pytest.raises(ConflictError):
        sdk.cancel(job)
    with pytest.raises(ValidationError) as error:
        sdk.submit_job("laplace", dataset, task="classification", config={"epochz": 1})
    assert error.value.errors[0]["loc"] == ["body", "config", "epochz"]
    with pytest.raises(NotFoundError):
        sdk.download_artifact(job, "weights.safetensors")
    with pytest.raises(ValidationError):
        sdk.upload_dataset(b"just,a,header\n", filename="empty.csv")
    sdk.delete_dataset(dataset.id)
    with pytest.raises(NotFoundError):
        sdk.dataset(dataset.id)


def test_an_upload_over_the_size_cap_is_payload_too_large(sqlite_database, tmp_path) -> None:
    from service.api.app import create_app
    from tests.jobs.conftest import make_settings

    app = create_app(make_settings(tmp_path, dataset_max_bytes=100), database=sqlite_database)
    with TestClient(app) as http:
        with pytest.raises(PayloadTooLargeError):
            Client(http_client=http).upload_dataset(b"a,b\n" + b"1,2\n" * 100, filename="big.csv")


def test_wait_times_out(sdk: Client) -> None:
    job = sdk.submit_job("test_sleep", "sklearn:wine", task="classification", config={"steps": 400})
    with pytest.raises(TimeoutError):
        sdk.wait(job, progress=False, poll_interval=0.05, timeout=0.2)
    sdk.cancel(job)
