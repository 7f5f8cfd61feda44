"""Image artifacts are shown by a browser (inline, their own type); other artifacts stay attachments."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.jobs.conftest import finished, wait_for


def test_png_artifacts_are_inline_and_json_ones_attachments(job_client: TestClient) -> None:
    job = job_client.post("/v1/jobs", json={"kind": "test_sleep", "dataset": "sklearn:diabetes", "task": "regression",
                                            "config": {"steps": 2, "step_seconds": 0.0, "plot": True}}).json()
    assert wait_for(job_client, job["id"], finished)["state"] == "succeeded"
    image = job_client.get(f"/v1/jobs/{job['id']}/artifacts/steps.png")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith("inline;")
    assert 'filename="steps.png"' in image.headers["content-disposition"]
    assert image.headers["x-content-type-options"] == "nosniff"
    document = job_client.get(f"/v1/jobs/{job['id']}/artifacts/out.json")
    assert document.headers["content-type"] == "application/json"
    assert document.headers["content-disposition"].startswith("attachment;")
