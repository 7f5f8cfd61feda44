"""Job configs are discoverable (a discriminated union on ``kind`` in the OpenAPI document) and
impossible combinations are refused at submission."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.cli import openapi_document
from service.db.job_models import JobRecord
from service.api.job_openapi import published_kinds


def test_the_openapi_document_lists_every_config_field_of_every_kind_with_its_default() -> None:
    document = openapi_document()
    body = document["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schemas = document["components"]["schemas"]
    mapping = body["discriminator"]["mapping"]
    assert body["discriminator"]["propertyName"] == "kind" and set(mapping) == set(published_kinds([])) >= {"laplace", "marglik", "nam", "prune"}
    for name, kind in published_kinds([]).items():
        request = schemas[mapping[name].rsplit("/", 1)[1]]
        assert request["properties"]["kind"]["const"] == name
        config_ref = request["properties"]["config"]["$ref"].rsplit("/", 1)[1]
        published = schemas[config_ref]["properties"]
        assert set(published) == set(kind.config.model_fields), name
        for field, info in kind.config.model_fields.items():
            if info.default_factory is None:
                assert published[field].get("default") == info.default, (name, field)
    epochs = schemas["LaplaceJobConfig"]["properties"]["epochs"]
    assert (epochs["minimum"], epochs["maximum"]) == (1, 100_000)
    assert "auto" in schemas["LaplaceJobConfig"]["properties"]["prior_tuning"]["enum"]


def test_a_nam_job_on_a_multiclass_target_is_422_naming_the_target(job_client: TestClient, sqlite_database) -> None:
    response = job_client.post("/v1/jobs", json={"kind": "nam", "dataset": "sklearn:wine", "task": "classification"})
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["errors"][0]["loc"] == ["body", "target"] and "3 classes" in error["detail"]
    with sqlite_database.read() as session:
        assert session.scalar(select(func.count()).select_from(JobRecord)) == 0  # nothing stored


def test_a_nam_job_on_a_binary_target_is_accepted(job_client: TestClient) -> None:
    response = job_client.post("/v1/jobs", json={"kind": "nam", "dataset": "sklearn:breast_cancer",
                                                 "task": "classification", "config": {"epochs": 1, "plots": False}})
    assert response.status_code == 202, response.text
    job_client.post(f"/v1/jobs/{response.json()['id']}/cancel")
