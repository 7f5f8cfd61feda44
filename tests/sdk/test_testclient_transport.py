"""A starlette ``TestClient`` (an ``httpx.Client`` subclass) works as the SDK's transport, in process."""

# No ``from __future__ import annotations``: FastAPI must resolve the route annotations below.
import warnings

import pytest

from service.sdk import Client, ValidationError

fastapi = pytest.importorskip("fastapi")


def test_sdk_runs_over_starlette_testclient() -> None:
    with warnings.catch_warnings():  # starlette 1.x warns that its httpx-based TestClient is deprecated
        warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient` is deprecated")
        from fastapi.testclient import TestClient

    app = fastapi.FastAPI()

    @app.post("/v1/studies/{study_id}/suggest")
    def suggest(study_id: str, body: dict, request: fastapi.Request) -> dict:
        trial = {"id": "t0", "study_id": study_id, "params": {"x": body["count"]}, "state": "pending",
                 "client_id": request.headers.get("authorization")}
        return {"trials": [trial]}

    @app.get("/v1/studies/{study_id}")
    def get_study(study_id: str) -> fastapi.responses.JSONResponse:
        body = {"detail": "limit: must be <= 100", "code": "validation_error",
                "errors": [{"loc": ["query", "limit"], "msg": "must be <= 100"}]}
        return fastapi.responses.JSONResponse(body, status_code=422)

    with TestClient(app) as http:
        client = Client(api_key="secret", http_client=http)
        [trial] = client.suggest("s1", count=2)
        assert (trial.study_id, trial.params, trial.client_id) == ("s1", {"x": 2}, "Bearer secret")
        with pytest.raises(ValidationError) as info:
            client.get_study("s1")
        assert info.value.errors == [{"loc": ["query", "limit"], "msg": "must be <= 100"}]
