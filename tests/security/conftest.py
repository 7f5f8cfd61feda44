"""Fixtures: an app with two principals (alice, bob), an admin, and helpers to create their resources."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.auth.keys import create_key
from service.config import Settings
from service.db import Database

SPACE = [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}, {"name": "y", "type": "float", "low": 0.0, "high": 1.0}]
CSV = "a,b,t\n" + "".join(f"{i % 7},{(i * 3) % 5},{(i % 7) * 0.5 + (i % 3)}\n" for i in range(40))


@dataclass
class Keys:
    alice: str
    bob: str
    admin: str

    def header(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        if who == "bad":
            return {"Authorization": "Bearer bdl_000000000000_not-a-real-key"}
        return {"Authorization": f"Bearer {getattr(self, who)}"}


@pytest.fixture
def keyed(sqlite_database: Database, tmp_path) -> Iterator[tuple[TestClient, Keys]]:
    """A TestClient on an app where keys exist (so no local mode) and jobs run locally."""
    keys = Keys(
        alice=create_key(sqlite_database, "alice")[0],
        bob=create_key(sqlite_database, "bob")[0],
        admin=create_key(sqlite_database, "root", admin=True)[0],
    )
    settings = Settings(data_dir=tmp_path, migrate_on_startup=False, torch_threads=1, job_heartbeat_seconds=0.2,
                        job_reaper_interval_seconds=0.5)
    app = create_app(settings, database=sqlite_database)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, keys


class Resources:
    """Creates resources as one principal through the API."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def _ok(self, response, status=(200, 201, 202)):
        assert response.status_code in status, response.text
        return response.json()

    def study(self) -> str:
        return self._ok(self.client.post("/v1/studies", headers=self.headers, json={
            "name": "s", "parameters": SPACE, "objectives": [{"name": "f"}], "surrogate": "random"}))["id"]

    def pending_trial(self, study_id: str) -> str:
        return self._ok(self.client.post(f"/v1/studies/{study_id}/suggest", headers=self.headers, json={}))["trials"][0]["id"]

    def completed_study(self) -> str:
        study_id = self.study()
        for x, y in ((0.1, 0.2), (0.8, 0.3), (0.4, 0.9)):
            self._ok(self.client.post(f"/v1/studies/{study_id}/observe", headers=self.headers,
                                      json={"params": {"x": x, "y": y}, "values": {"f": x + y}}))
        return study_id

    def dataset(self) -> str:
        response = self.client.post("/v1/datasets", headers=self.headers, files={"file": ("d.csv", CSV, "text/csv")})
        return self._ok(response)["id"]

    def job(self, dataset: str | None = None, wait: bool = True, epochs: int = 2) -> str:
        body = {"kind": "laplace", "dataset": dataset or self.dataset(), "task": "regression",
                "model": {"kind": "mlp", "hidden": [8]}, "config": {"epochs": epochs, "tune_steps": 5}}
        job_id = self._ok(self.client.post("/v1/jobs", headers=self.headers, json=body))["id"]
        if wait:
            deadline = time.monotonic() + 60
            while True:
                job = self._ok(self.client.get(f"/v1/jobs/{job_id}", headers=self.headers))
                if job["state"] in ("succeeded", "failed", "cancelled"):
                    assert job["state"] == "succeeded", job
                    return job_id
                assert time.monotonic() < deadline, job
                time.sleep(0.1)
        return job_id
