"""Body-size limit (413), rate limits (429 + Retry-After), metrics, request ids and JSON logs."""

from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import Settings
from service.observability.logs import JsonFormatter, RequestIdFilter

SPACE = [{"name": "x", "type": "float", "low": 0, "high": 1}]


@pytest.fixture
def limited(sqlite_database, tmp_path):
    settings = Settings(data_dir=tmp_path, migrate_on_startup=False, max_request_bytes=4096,
                        rate_limit_suggest_per_minute=6, rate_limit_local_mode=True, dataset_max_bytes=8192)
    with TestClient(create_app(settings, database=sqlite_database), raise_server_exceptions=False) as client:
        yield client


def test_oversized_bodies_get_413_without_being_read(limited):
    big = {"name": "x" * 10_000, "parameters": SPACE, "objectives": [{"name": "f"}]}
    response = limited.post("/v1/studies", json=big)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    chunks = (b"x" * 1024 for _ in range(64))  # streamed without Content-Length
    response = limited.post("/v1/studies", content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert limited.get("/v1/studies").json()["total"] == 0
    upload = limited.post("/v1/datasets", files={"file": ("d.csv", "a,b\n" + "1,2\n" * 4000, "text/csv")})
    assert upload.status_code == 413


def test_suggest_is_rate_limited_per_principal(limited):
    sid = limited.post("/v1/studies", json={"name": "r", "parameters": SPACE, "objectives": [{"name": "f"}],
                                            "surrogate": "random"}).json()["id"]
    assert limited.post(f"/v1/studies/{sid}/suggest", json={}).status_code == 200
    response = limited.post(f"/v1/studies/{sid}/suggest", json={})
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1
    assert limited.get(f"/v1/studies/{sid}").json()["trial_counts"]["pending"] == 1


def test_count_and_page_sizes_are_bounded(limited):
    assert limited.get("/v1/studies?limit=501").status_code == 422
    assert limited.get("/v1/jobs?limit=501").status_code == 422


def test_metrics_report_requests_suggests_and_jobs(client):
    sid = client.post("/v1/studies", json={"name": "m", "parameters": SPACE, "objectives": [{"name": "f"}],
                                           "surrogate": "random"}).json()["id"]
    client.post(f"/v1/studies/{sid}/suggest", json={})
    client.get("/v1/studies/does-not-exist")
    text = client.get("/metrics").text
    assert 'bdlopt_http_request_duration_seconds_count{method="POST",route="/v1/studies/{study_id}/suggest",status="200"}' in text
    assert 'route="/v1/studies/{study_id}",status="404"' in text
    assert 'bdlopt_suggest_duration_seconds_count{surrogate="random"}' in text
    assert "bdlopt_job_queue_depth 0.0" in text and "bdlopt_model_fit_failures_total" in text


def test_request_id_in_header_error_body_and_log_lines(client, monkeypatch):
    response = client.get("/v1/studies/nope", headers={"X-Request-ID": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123" and response.json()["request_id"] == "trace-123"
    generated = client.get("/v1/studies/nope")
    assert generated.json()["request_id"] == generated.headers["x-request-id"] and len(generated.headers["x-request-id"]) == 32
    ignored = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert ignored.headers["x-request-id"] != "bad id with spaces"

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("service.studies.suggest")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        sid = client.post("/v1/studies", json={"name": "l", "parameters": SPACE, "objectives": [{"name": "f"}],
                                               "surrogate": "random"}).json()["id"]
        suggest = client.post(f"/v1/studies/{sid}/suggest", json={}, headers={"X-Request-ID": "log-42"})
    finally:
        logger.removeHandler(handler)
    assert suggest.status_code == 200
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert any(line["request_id"] == "log-42" and "suggest study=" in line["message"] for line in lines), lines
