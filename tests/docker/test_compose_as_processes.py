"""docker-compose.yml works on the first start: its services, run as local processes against the
local PostgreSQL and Redis (tests/docker/compose_processes.py), bootstrap an admin key, serve on a
public address, run jobs on the worker, and the README's SDK and jobs examples pass with that key.

Needs PostgreSQL and Redis: required when CI=true, skipped with the reason elsewhere.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid

import httpx
import pytest

from tests.docker.compose_processes import ROOT, ComposeAsProcesses, load_compose
from tests.docs.test_readme import DEFAULT_BASE, fenced_blocks
from tests.live_server import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def stack(fresh_postgres_url, redis_url, tmp_path):
    compose = ComposeAsProcesses(load_compose("docker-compose.yml"), tmp_path, database_url=fresh_postgres_url,
                                 broker_url=redis_url, queue_prefix=f"compose-test-{uuid.uuid4().hex[:8]}",
                                 port=free_port())
    try:
        yield compose
    finally:
        compose.down()


def _readme_example(section: str, base: str, key: str) -> subprocess.CompletedProcess:
    (code,) = fenced_blocks(section, "python")
    return subprocess.run([sys.executable, "-c", code.replace(DEFAULT_BASE, base)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "BDLOPT_API_KEY": key})


def test_compose_stack_starts_bootstraps_a_key_and_runs_the_readme(stack):
    started = stack.up()
    assert started == ["bootstrap", "api", "worker"]
    key_file = stack.data / "admin-key"
    key = key_file.read_text().strip()
    assert key.startswith("bdl_") and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stack.running["api"].poll() is None  # serving on 0.0.0.0, which needs a key
    base = stack.base_url
    assert httpx.get(f"{base}/v1/studies", timeout=10).status_code == 401  # no local mode
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{base}/v1/studies", headers=headers, timeout=10).status_code == 200

    again = stack.run_once("bootstrap")  # a restart of the stack keeps the first key
    assert again.returncode == 0 and "exists already" in again.stderr
    assert key_file.read_text().strip() == key

    sdk = _readme_example("Python SDK", base.removeprefix("http://"), key)
    assert sdk.returncode == 0, sdk.stderr
    assert "'x'" in sdk.stdout and "'loss'" in sdk.stdout
    jobs = _readme_example("Background jobs", base.removeprefix("http://"), key)
    assert jobs.returncode == 0, f"{jobs.stderr}\n--- worker:\n{stack.log_tail('worker')}"
    assert "mlp" in jobs.stdout
    assert "rate limits: shared by every API process through Redis" in stack.log_tail("api", 10**6)
