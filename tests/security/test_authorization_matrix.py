"""Authorisation matrix generated from the app's routes.

For every route under /v1: no key -> 401, a bad key -> 401, another principal's key -> 404 (the
resource's existence is not revealed), the owner's key -> 2xx. Collection routes (create, list)
answer the other principal with 2xx but never show the owner's resources. A route added to the app
without a case here fails the test.
"""

from __future__ import annotations

from tests.security.conftest import CSV, Resources


def _job_artifact(res: Resources) -> tuple[str, str]:
    job_id = res.job()
    result = res.client.get(f"/v1/jobs/{job_id}/result", headers=res.headers).json()
    return job_id, result["artifacts"][0]["name"]


def _job_predict(res: Resources) -> tuple[str, dict]:
    job_id = res.job()
    info = res.client.get(f"/v1/jobs/{job_id}/artifacts/weights.json", headers=res.headers).json()
    return f"/v1/jobs/{job_id}/predict", {"json": {"rows": [[0.0] * len(info["feature_names"])]}}


def _resource_cases():
    """(method, path) -> builder(resources of the owner) -> (url, request kwargs)."""
    return {
        ("GET", "/v1/studies/{study_id}"): lambda r: (f"/v1/studies/{r.study()}", {}),
        ("DELETE", "/v1/studies/{study_id}"): lambda r: (f"/v1/studies/{r.study()}", {}),
        ("POST", "/v1/studies/{study_id}/suggest"): lambda r: (f"/v1/studies/{r.study()}/suggest", {"json": {}}),
        ("POST", "/v1/studies/{study_id}/observe"): lambda r: (
            f"/v1/studies/{r.study()}/observe", {"json": {"params": {"x": 0.5, "y": 0.5}, "values": {"f": 1.0}}}),
        ("POST", "/v1/studies/{study_id}/trials/{trial_id}/fail"): lambda r: _trial_url(r, "fail"),
        ("POST", "/v1/studies/{study_id}/trials/{trial_id}/abandon"): lambda r: _trial_url(r, "abandon"),
        ("POST", "/v1/studies/{study_id}/trials/{trial_id}/heartbeat"): lambda r: _trial_url(r, "heartbeat"),
        ("POST", "/v1/studies/{study_id}/trials/{trial_id}/report"): lambda r: (
            _trial_url(r, "report")[0], {"json": {"step": 1, "values": {"f": 0.5}}}),
        ("GET", "/v1/studies/{study_id}/trials"): lambda r: (f"/v1/studies/{r.study()}/trials", {}),
        ("GET", "/v1/studies/{study_id}/trials.csv"): lambda r: (f"/v1/studies/{r.completed_study()}/trials.csv", {}),
        ("GET", "/v1/studies/{study_id}/export"): lambda r: (f"/v1/studies/{r.completed_study()}/export", {}),
        ("GET", "/v1/studies/{study_id}/best"): lambda r: (f"/v1/studies/{r.completed_study()}/best", {}),
        ("GET", "/v1/studies/{study_id}/pareto"): lambda r: (f"/v1/studies/{r.completed_study()}/pareto", {}),
        ("POST", "/v1/studies/{study_id}/trials"): lambda r: (
            f"/v1/studies/{r.study()}/trials", {"json": {"params": {"x": 0.25, "y": 0.75}}}),
        ("POST", "/v1/studies/{study_id}/predict"): lambda r: (
            f"/v1/studies/{r.completed_study()}/predict", {"json": {"points": [{"x": 0.5, "y": 0.5}]}}),
        ("GET", "/v1/datasets/{dataset_id}"): lambda r: (f"/v1/datasets/{r.dataset()}", {}),
        ("DELETE", "/v1/datasets/{dataset_id}"): lambda r: (f"/v1/datasets/{r.dataset()}", {}),
        ("GET", "/v1/jobs/{job_id}"): lambda r: (f"/v1/jobs/{r.job()}", {}),
        ("GET", "/v1/jobs/{job_id}/result"): lambda r: (f"/v1/jobs/{r.job()}/result", {}),
        ("GET", "/v1/jobs/{job_id}/artifacts/{name}"): lambda r: (
            "/v1/jobs/{}/artifacts/{}".format(*_job_artifact(r)), {}),
        ("POST", "/v1/jobs/{job_id}/predict"): _job_predict,
        ("POST", "/v1/jobs/{job_id}/cancel"): lambda r: (
            f"/v1/jobs/{r.job(dataset='sklearn:diabetes', wait=False, epochs=100_000)}/cancel", {}),
    }


def _trial_url(r: Resources, action: str):
    study = r.study()
    return f"/v1/studies/{study}/trials/{r.pending_trial(study)}/{action}", {}


COLLECTION_CASES = {
    ("POST", "/v1/studies"): lambda: {"json": {"name": "n", "parameters": [{"name": "x", "type": "float", "low": 0,
                                      "high": 1}], "objectives": [{"name": "f"}]}},
    ("GET", "/v1/studies"): lambda: {},
    ("POST", "/v1/studies/import"): lambda: {"json": {
        "format": "bdlopt.study", "version": 1, "trials": [],
        "study": {"name": "imported", "parameters": [{"name": "x", "type": "float", "low": 0, "high": 1}],
                  "objectives": [{"name": "f"}]}}},
    ("POST", "/v1/datasets"): lambda: {"files": {"file": ("d.csv", CSV, "text/csv")}},
    ("GET", "/v1/datasets"): lambda: {},
    ("POST", "/v1/jobs"): lambda: {"json": {"kind": "laplace", "dataset": "sklearn:diabetes", "task": "regression",
                                   "model": {"kind": "mlp", "hidden": [4]}, "config": {"epochs": 1, "tune_steps": 1}}},
    ("GET", "/v1/jobs"): lambda: {},
}


def _v1_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app serves under /v1, from its route table (via its OpenAPI view,
    which FastAPI builds from the routes, nested routers included)."""
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/v1")
        for method in operations
    }


def test_every_v1_route_has_a_case(keyed):
    client, _ = keyed
    assert _v1_routes(client.app) == set(_resource_cases()) | set(COLLECTION_CASES)


def test_resource_routes(keyed):
    client, keys = keyed
    owner = Resources(client, keys.header("alice"))
    failures = []
    for (method, path), build in sorted(_resource_cases().items()):
        url, kwargs = build(owner)
        for who, expected in ((None, 401), ("bad", 401), ("bob", 404)):
            response = client.request(method, url, headers=keys.header(who), **kwargs)
            if response.status_code != expected:
                failures.append(f"{method} {path} as {who}: {response.status_code} (expected {expected})")
            elif who is None and response.json()["code"] != "unauthorized":
                failures.append(f"{method} {path}: 401 without code 'unauthorized'")
        if method == "GET":
            admin = client.request(method, url, headers=keys.header("admin"), **kwargs)
            if not 200 <= admin.status_code < 300:
                failures.append(f"{method} {path} as admin: {admin.status_code}")
        response = client.request(method, url, headers=keys.header("alice"), **kwargs)
        if not 200 <= response.status_code < 300:
            failures.append(f"{method} {path} as owner: {response.status_code} {response.text[:200]}")
    assert failures == []


def test_collection_routes(keyed):
    client, keys = keyed
    owner = Resources(client, keys.header("alice"))
    mine = {"/v1/studies": owner.study(), "/v1/datasets": owner.dataset(), "/v1/jobs": owner.job()}
    for (method, path), build in sorted(COLLECTION_CASES.items()):
        for who in (None, "bad"):
            assert client.request(method, path, headers=keys.header(who), **build()).status_code == 401, (method, path)
        other = client.request(method, path, headers=keys.header("bob"), **build())
        assert 200 <= other.status_code < 300, (method, path, other.text)
        if method == "GET":
            assert mine[path] not in {item["id"] for item in other.json()["items"]}, path
            admin_ids = {item["id"] for item in client.get(path, headers=keys.header("admin")).json()["items"]}
            assert mine[path] in admin_ids, path
        owned = client.request(method, path, headers=keys.header("alice"), **build())
        assert 200 <= owned.status_code < 300, (method, path, owned.text)


def test_other_principal_cannot_use_owners_dataset_in_a_job(keyed):
    client, keys = keyed
    dataset = Resources(client, keys.header("alice")).dataset()
    response = client.post("/v1/jobs", headers=keys.header("bob"), json={
        "kind": "laplace", "dataset": dataset, "task": "regression", "config": {"epochs": 1}})
    assert response.status_code == 422 and "not found" in response.json()["detail"]
