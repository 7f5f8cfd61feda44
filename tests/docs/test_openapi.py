"""The committed OpenAPI document matches the app (run `make openapi` after changing the API)."""

from __future__ import annotations

import json
from pathlib import Path

from service.cli import openapi_document

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_document_is_current():
    committed = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    generated = json.loads(json.dumps(openapi_document()))
    assert committed == generated, "openapi/openapi.json is stale: run `bdlopt openapi` and commit it"


def test_every_route_of_the_contract_is_served():
    paths = openapi_document()["paths"]
    expected = {
        ("/v1/studies", "post"), ("/v1/studies", "get"), ("/v1/studies/{study_id}", "get"),
        ("/v1/studies/{study_id}", "delete"), ("/v1/studies/{study_id}/suggest", "post"),
        ("/v1/studies/{study_id}/observe", "post"), ("/v1/studies/{study_id}/trials/{trial_id}/fail", "post"),
        ("/v1/studies/{study_id}/trials/{trial_id}/abandon", "post"),
        ("/v1/studies/{study_id}/trials/{trial_id}/heartbeat", "post"),
        ("/v1/studies/{study_id}/trials", "get"), ("/v1/studies/{study_id}/best", "get"),
        ("/v1/studies/{study_id}/predict", "post"), ("/healthz", "get"), ("/readyz", "get"),
    }
    served = {(path, method) for path, item in paths.items() for method in item}
    assert expected <= served, expected - served
