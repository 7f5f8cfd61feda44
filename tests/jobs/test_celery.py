"""The Celery back end against the real Redis, with real ``bdlopt worker`` subprocesses.

Needs Redis at BDLOPT_TEST_REDIS_URL (default redis://127.0.0.1:6379/15): required when ``CI=true``,
skipped with the reason elsewhere. Each session uses its own queue names (``celery_queue_prefix``),
so parallel runs on one Redis do not steal each other's jobs. The API runs in process (TestClient,
with the reaper thread); the workers are separate processes in their own process groups, so a
test can SIGKILL a whole worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import Settings
from service.db import Database
from service.db.migrate import upgrade
from tests.jobs.conftest import PLUGIN, finished, wait_for

REDIS_URL = os.environ.get("BDLOPT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parents[2]
JOB = {"kind": "test_sleep", "dataset": "sklearn:wine", "task": "classification"}

pytestmark = pytest.mark.slow


def _redis_unavailable_reason() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
        return None
    except Exception as error:  # noqa: BLE001
        return f"Redis unreachable at {REDIS_URL}: {error.__class__.__name__}: {error}"


class Cluster:
    """The in-process API and at most one worker subprocess at a time."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.prefix = f"bdlopt-test-{uuid.uuid4().hex[:10]}-"
        self.database_url = f"sqlite:///{tmp / 'jobs.db'}"
        self.env = {
            "BDLOPT_DATA_DIR": str(tmp), "BDLOPT_DATABASE_URL": self.database_url, "BDLOPT_BROKER_URL": REDIS_URL,
            "BDLOPT_JOB_BACKEND": "celery", "BDLOPT_CELERY_QUEUE_PREFIX": self.prefix, "BDLOPT_JOB_PLUGINS": PLUGIN,
            "BDLOPT_JOB_HEARTBEAT_SECONDS": "0.25", "BDLOPT_JOB_REAPER_TIMEOUT_SECONDS": "1.5",
            "BDLOPT_JOB_REAPER_INTERVAL_SECONDS": "0.25", "BDLOPT_JOB_TIME_LIMIT_SECONDS": "60",
            "BDLOPT_BROKER_VISIBILITY_TIMEOUT_SECONDS": "120", "BDLOPT_TORCH_THREADS": "1",
            "BDLOPT_MIGRATE_ON_STARTUP": "false", "BDLOPT_JOB_MAX_ATTEMPTS": "3",
        }
        self.worker: subprocess.Popen | None = None
        self.logs: list[Path] = []

    def settings(self) -> Settings:
        return Settings(**{key.removeprefix("BDLOPT_").lower(): value for key, value in self.env.items()})

    def start_worker(self) -> subprocess.Popen:
        log = self.tmp / f"worker-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("w") as handle:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "service.cli", "worker", "--queues", "cpu", "--concurrency", "1",
                 "--pool", "prefork", "--loglevel", "INFO"],
                cwd=ROOT, env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}, stdout=handle,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self.worker

    def ensure_worker(self) -> subprocess.Popen:
        if self.worker is None or self.worker.poll() is not None:
            return self.start_worker()
        return self.worker

    def kill_worker(self) -> None:
        """SIGKILL the worker's whole process group (parent and pool children)."""
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(timeout=10)
        self.worker = None

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            try:
                self.worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill_worker()
        self.worker = None

    def log_tail(self) -> str:
        return "\n".join(f"--- {log.name}\n" + log.read_text()[-3000:] for log in self.logs if log.exists())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    reason = _redis_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires Redis: {reason}")
        pytest.skip(reason)
    state = Cluster(tmp_path_factory.mktemp("celery"))
    database = Database(state.database_url)
    upgrade(database)
    state.database = database
    try:
        yield state
    finally:
        state.stop_worker()
        database.dispose()
        _forget_queues(state.prefix)


def _forget_queues(prefix: str) -> None:
    """Delete this session's queues, and its unacknowledged messages (the SIGKILLed worker's) from kombu's
    shared ``unacked`` hash, so no later worker on this Redis database restores them."""
    import json

    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    for tag, raw in connection.hgetall("unacked").items():
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if str(routing_key).startswith(prefix):
            connection.hdel("unacked", tag)
            connection.zrem("unacked_index", tag)
    for key in connection.scan_iter(match=f"*{prefix}*"):
        connection.delete(key)


@pytest.fixture
def api(cluster: Cluster) -> Iterator[TestClient]:
    app = create_app(cluster.settings(), database=cluster.database)
    with TestClient(app) as client:
        yield client


def _wait(cluster: Cluster, api: TestClient, job_id: str, predicate, timeout: float = 40.0) -> dict:
    try:
        return wait_for(api, job_id, predicate, timeout=timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{cluster.log_tail()}") from None


def test_a_laplace_job_runs_to_success_on_a_worker(cluster: Cluster, api: TestClient) -> None:
    cluster.ensure_worker()
    job = api.post("/v1/jobs", json={"kind": "laplace", "dataset": "sklearn:wine", "task": "classification",
                                     "model": {"kind": "mlp", "hidden": [8]},
                                     "config": {"epochs": 3, "tune_steps": 3, "plots": False}})
    assert job.status_code == 202 and job.json()["queue"] == "cpu"
    done = _wait(cluster, api, job.json()["id"], finished, timeout=60)
    assert done["state"] == "succeeded", (done, cluster.log_tail())
    assert done["attempt"] == 1 and done["worker"].endswith(f":{_child_pid_hint(done)}")
    result = api.get(f"/v1/jobs/{done['id']}/result").json()
    assert result["result"]["map"]["accuracy"] >= 0 and len(result["artifacts"]) == 3  # weights (2) + posterior


def _child_pid_hint(job: dict) -> str:
    """The pid in ``host:pid`` (a pool child, not the worker's parent process)."""
    return job["worker"].rsplit(":", 1)[1]


def test_cancel_works_while_running_and_frees_the_worker(cluster: Cluster, api: TestClient) -> None:
    worker = cluster.ensure_worker()
    job = api.post("/v1/jobs", json={**JOB, "config": {"steps": 600, "step_seconds": 0.05}}).json()
    running = _wait(cluster, api, job["id"], lambda j: j["state"] == "running" and (j["epoch"] or 0) >= 2)
    assert int(_child_pid_hint(running)) != worker.pid  # runs in a forked pool process
    assert api.post(f"/v1/jobs/{job['id']}/cancel").json()["cancel_requested"]
    cancelled = _wait(cluster, api, job["id"], finished)
    assert cancelled["state"] == "cancelled" and cancelled["progress"] < 1
    follow_up = api.post("/v1/jobs", json=JOB).json()
    assert _wait(cluster, api, follow_up["id"], finished)["state"] == "succeeded"


def test_a_job_that_kills_its_worker_every_time_fails_after_max_attempts(cluster: Cluster, api: TestClient) -> None:
    worker = cluster.ensure_worker()
    job = api.post("/v1/jobs", json={**JOB, "config": {"steps": 3, "kill_at_step": 1}}).json()
    failed = _wait(cluster, api, job["id"], finished, timeout=60)
    assert failed["state"] == "failed" and failed["attempt"] == 3, (failed, cluster.log_tail())
    assert "no heartbeat" in failed["error"] and "giving up after max_attempts" in failed["error"]
    assert worker.poll() is None  # the worker's parent survived and replaced its pool process
    follow_up = api.post("/v1/jobs", json=JOB).json()
    assert _wait(cluster, api, follow_up["id"], finished)["state"] == "succeeded"


def test_a_killed_worker_is_followed_by_a_second_that_completes_the_job_once(cluster: Cluster,
                                                                              api: TestClient) -> None:
    cluster.ensure_worker()
    completions = cluster.tmp / "completions.txt"
    job = api.post("/v1/jobs", json={**JOB, "config": {"steps": 30, "step_seconds": 0.1,
                                                        "completions_file": str(completions)}}).json()
    _wait(cluster, api, job["id"], lambda j: j["state"] == "running" and (j["epoch"] or 0) >= 3)
    cluster.kill_worker()
    time.sleep(0.5)
    assert api.get(f"/v1/jobs/{job['id']}").json()["state"] in ("running", "queued")
    cluster.start_worker()
    done = _wait(cluster, api, job["id"], finished, timeout=60)
    assert done["state"] == "succeeded" and done["attempt"] == 2, (done, cluster.log_tail())
    body = api.get(f"/v1/jobs/{job['id']}/result").json()
    assert body["attempt"] == 2 and body["result"]["attempt"] == 2
    assert [a["name"] for a in body["artifacts"]] == ["out.json"]
    assert api.get(f"/v1/jobs/{job['id']}/artifacts/out.json").json()["attempt"] == 2
    assert completions.read_text().split("\n")[:-1] == [f"{job['id']} 2"]  # exactly one completed run
    assert not (cluster.tmp / "artifacts" / job["id"] / "attempt-1").exists()
