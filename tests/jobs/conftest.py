"""Fixtures of the job tests: a clean job database on each back end, settings, an in-process app."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from service.api.app import create_app
from service.config import Settings
from service.db import Database

PLUGIN = "tests.jobs.plugin_kinds"


def _clear_jobs(database: Database) -> None:
    with database.engine.begin() as connection:
        for table in ("job_artifacts", "jobs", "datasets"):
            connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def job_database(database: Database) -> Iterator[Database]:
    """The shared ``database`` fixture (sqlite and postgres) without jobs, artifacts or datasets, before
    and after the test (the PostgreSQL database outlives the test; its other users must not see our jobs)."""
    _clear_jobs(database)
    yield database
    _clear_jobs(database)


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Fast job settings: quick heartbeats, the test kind registered, one torch thread."""
    values = dict(data_dir=data_dir, migrate_on_startup=False, torch_threads=1, job_plugins=PLUGIN,
                  job_heartbeat_seconds=0.2, job_reaper_timeout_seconds=30.0, job_reaper_interval_seconds=0.2)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def job_settings(tmp_path: Path) -> Settings:
    """Settings for an app over a temporary data directory."""
    return make_settings(tmp_path)


@pytest.fixture
def job_client(sqlite_database: Database, job_settings: Settings) -> Iterator[TestClient]:
    """A TestClient whose app runs jobs on the local back end (one worker thread)."""
    app = create_app(job_settings, database=sqlite_database)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def wait_for(client: TestClient, job_id: str, predicate: Callable[[dict], bool], timeout: float = 60.0) -> dict:
    """Poll ``GET /v1/jobs/{id}`` until ``predicate(job)`` holds; returns the job."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if predicate(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not reach the expected state: {job}")
        time.sleep(0.05)


def finished(job: dict) -> bool:
    """Whether a job body is in a final state."""
    return job["state"] in ("succeeded", "failed", "cancelled")
