"""``bdlopt serve --workers N``: N API processes on one port and one SQLite file, writing through the
writers' queue (``SQLiteWriterLock``) without losing or repeating anything."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from benchmarks.throughput import wait_until_workers_idle
from tests.live_server import ROOT, ServerProcess

CLIENTS, ROUNDS = 8, 20


def _cpu_seconds(pid: str) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_two_workers_share_one_sqlite_database(tmp_path):
    server = ServerProcess(f"sqlite:///{tmp_path / 'workers.db'}", extra_env={"BDLOPT_LOG_LEVEL": "WARNING"},
                           args=["--workers", "2"])
    try:
        server.wait_ready()
        wait_until_workers_idle(server.process.pid, 2)
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
        before = {child: _cpu_seconds(child) for child in children}
        study = httpx.post(f"{server.base_url}/v1/studies", timeout=30, json={
            "name": "workers", "parameters": [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}],
            "objectives": [{"name": "f"}], "surrogate": "random"}).json()
        errors: list[str] = []

        def client() -> None:
            with httpx.Client(base_url=server.base_url, timeout=60) as http:  # one connection, one worker
                for _ in range(ROUNDS):
                    suggested = http.post(f"/v1/studies/{study['id']}/suggest", json={})
                    if suggested.status_code != 200:
                        errors.append(suggested.text)
                        continue
                    trial = suggested.json()["trials"][0]
                    observed = http.post(f"/v1/studies/{study['id']}/observe",
                                         json={"trial_id": trial["id"], "values": {"f": trial["params"]["x"]}})
                    if observed.status_code != 200:
                        errors.append(observed.text)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        # a worker that served part of the 320 requests spent well over 0.05 s; an idle one (its reaper) ~0
        busy = [child for child in children if _cpu_seconds(child) - before[child] > 0.05]
        trials = httpx.get(f"{server.base_url}/v1/studies/{study['id']}/trials", params={"limit": 1000},
                           timeout=30).json()["items"]
    finally:
        server.close()
    assert errors == []
    assert sorted(t["number"] for t in trials) == list(range(CLIENTS * ROUNDS))  # none lost, none repeated
    assert len({t["params"]["x"] for t in trials}) == CLIENTS * ROUNDS
    assert all(t["state"] == "completed" for t in trials)
    assert len(busy) >= 2, "both workers served requests"


def test_workers_must_be_at_least_one():
    result = subprocess.run([sys.executable, "-m", "service.cli", "serve", "--workers", "0"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--workers" in result.stderr
