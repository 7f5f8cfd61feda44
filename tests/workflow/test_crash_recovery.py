"""Nothing evaluated is lost, nothing is recorded twice: SIGKILL the server or the client at random moments
while ``optimize(n_jobs=4)`` runs, then run the same call again.

Afterwards the study holds exactly ``n_trials`` completed trials, nothing is pending, and the completed
trials are exactly the returned calls of the objective (each once, with its value).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.live_server import ROOT, ServerProcess, free_port

N_TRIALS = 12
SERVER_KILLS = 2
CLIENT_KILLS = 3


def _start_client(base_url: str, tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.workflow.crash_client", base_url, str(tmp_path / "calls.jsonl"),
         str(tmp_path / "journal.jsonl"), str(N_TRIALS)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _finish(process: subprocess.Popen, timeout: float = 180.0) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def _wait_for_a_new_result(journal: Path, marker: str = '"op": "result"', timeout: float = 10.0) -> None:
    """Return as soon as the client journals its next result (sent to the server a moment later, or not).

    With another ``marker`` and file: as soon as another line with ``marker`` appears there.
    """
    results = _line_count(journal, marker)
    deadline = time.monotonic() + timeout
    while _line_count(journal, marker) == results and time.monotonic() < deadline:
        time.sleep(0.001)


def _line_count(path: Path, marker: str) -> int:
    return path.read_text().count(marker) if path.exists() else 0


def _counts(base_url: str) -> dict[str, int]:
    studies = httpx.get(f"{base_url}/v1/studies", params={"name": "crash"}).json()["items"]
    return studies[0]["trial_counts"] if studies else {}


def _check_study(base_url: str, tmp_path: Path) -> None:
    studies = httpx.get(f"{base_url}/v1/studies", params={"name": "crash"}).json()["items"]
    assert len(studies) == 1
    trials = httpx.get(f"{base_url}/v1/studies/{studies[0]['id']}/trials", params={"limit": 1000}).json()["items"]
    states = Counter(t["state"] for t in trials)
    assert states["completed"] == N_TRIALS and states["pending"] == 0, states
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    returned = Counter((json.dumps(c["params"], sort_keys=True), c["value"]) for c in calls)
    recorded = Counter((json.dumps(t["params"], sort_keys=True), t["values"]["loss"])
                       for t in trials if t["state"] == "completed")
    assert len(calls) == N_TRIALS and returned == recorded


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0])
def test_server_killed_at_random_moments(tmp_path, seed):
    rng = random.Random(seed)
    database_url = f"sqlite:///{tmp_path / 'crash.db'}"
    port = free_port()
    server = ServerProcess(database_url, port)
    server.wait_ready()
    client = _start_client(server.base_url, tmp_path)
    try:
        for _ in range(SERVER_KILLS):
            # while optimize runs: after the client evaluated something since the last restart
            _wait_for_a_new_result(tmp_path / "calls.jsonl", marker='"value"', timeout=60.0)
            time.sleep(rng.uniform(0.0, 0.4))
            server.kill()
            time.sleep(rng.uniform(0.0, 0.5))
            server = ServerProcess(database_url, port)
            server.wait_ready()
        _finish(client)  # it may finish or give up; the rerun below must complete the study either way
        code, output = _finish(_start_client(server.base_url, tmp_path))
        assert code == 0, output
        _check_study(server.base_url, tmp_path)
    finally:
        client.kill()
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0])
def test_client_killed_at_random_moments(tmp_path, seed):
    rng = random.Random(seed)
    server = ServerProcess(f"sqlite:///{tmp_path / 'crash.db'}")
    try:
        server.wait_ready()
        pending_after_kills = []
        for kill in range(CLIENT_KILLS):
            client = _start_client(server.base_url, tmp_path)
            # optimize is evaluating (not still importing): one of this run's evaluations returned
            _wait_for_a_new_result(tmp_path / "calls.jsonl", marker='"value"', timeout=60.0)
            time.sleep(rng.uniform(0.0, 0.2))
            if kill % 2:  # right after an evaluation returned: its result is journaled, maybe not yet sent
                _wait_for_a_new_result(tmp_path / "journal.jsonl")
            client.kill()
            client.wait()
            pending_after_kills.append(_counts(server.base_url).get("pending", 0))
        # The kills landed while the client held trials it had not reported (else nothing was tested).
        assert any(pending > 0 for pending in pending_after_kills), pending_after_kills
        code, output = _finish(_start_client(server.base_url, tmp_path))
        assert code == 0, output
        _check_study(server.base_url, tmp_path)
    finally:
        server.stop()
