"""``/v1/datasets`` over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.db import Database
from tests.jobs.conftest import make_settings


@pytest.fixture
def client(sqlite_database: Database, tmp_path) -> TestClient:
    app = create_app(make_settings(tmp_path, dataset_max_bytes=2000, local_workers=0), database=sqlite_database)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_upload_read_list_and_delete(client: TestClient, tmp_path) -> None:
    response = client.post("/v1/datasets", files={"file": ("houses.csv", b"rooms,city,price\n3,a,100\n4,b,150\n")},
                           data={"categorical": "city"})
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert (dataset["n_rows"], dataset["n_features"], dataset["columns"]) == (2, 2, ["rooms", "city", "price"])
    assert dataset["categorical"] == ["city"] and dataset["name"] == "houses.csv" and not dataset["builtin"]
    assert client.get(f"/v1/datasets/{dataset['id']}").json() == dataset
    assert [d["id"] for d in client.get("/v1/datasets").json()["items"]] == [dataset["id"]]
    stored = list((tmp_path / "datasets").iterdir())
    assert [p.name for p in stored] == [f"{dataset['id']}.npz"]
    assert client.delete(f"/v1/datasets/{dataset['id']}").status_code == 204
    assert client.get(f"/v1/datasets/{dataset['id']}").status_code == 404
    assert not list((tmp_path / "datasets").iterdir())


def test_builtin_datasets_are_read_by_name_and_cannot_be_deleted(client: TestClient) -> None:
    digits = client.get("/v1/datasets/sklearn:digits").json()
    assert (digits["n_rows"], digits["n_features"], digits["builtin"]) == (1797, 64, True)
    response = client.delete("/v1/datasets/sklearn:digits")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert client.get("/v1/datasets/sklearn:mnist").status_code == 404


def test_size_cap_is_413(client: TestClient) -> None:
    big = b"a,b\n" + b"1,2\n" * 1000
    response = client.post("/v1/datasets", files={"file": ("big.csv", big)})
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert "2000 bytes" in response.json()["detail"]


def test_invalid_uploads_are_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/v1/datasets", files={"file": ("x.csv", b"a,b\n1,oops\n")})
    assert response.status_code == 422 and "non-numeric value 'oops'" in response.json()["detail"]
    assert response.json()["errors"][0]["loc"] == ["body", "file"]
    response = client.post("/v1/datasets", data={"categorical": "a"})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "file"]
    response = client.post("/v1/datasets", files={"file": ("x.csv", b"a,b\n1,2\n")}, data={"categorical": "z"})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "categorical"]


def test_a_dataset_in_use_by_a_queued_job_cannot_be_deleted(client: TestClient) -> None:
    dataset = client.post("/v1/datasets", files={"file": ("x.csv", b"a,b\n1,0\n2,1\n3,0\n")}).json()
    job = client.post("/v1/jobs", json={"kind": "test_sleep", "dataset": dataset["id"], "task": "classification"})
    assert job.status_code == 202
    response = client.delete(f"/v1/datasets/{dataset['id']}")
    assert response.status_code == 409 and "1 queued or running job" in response.json()["detail"]
    client.post(f"/v1/jobs/{job.json()['id']}/cancel")
    assert client.delete(f"/v1/datasets/{dataset['id']}").status_code == 204
