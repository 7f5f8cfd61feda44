"""Scale-out: two ``bdlopt serve`` processes on one PostgreSQL database, 32 client threads spread over
both, suggest/observe/fail on random and GP studies; one process is SIGKILLed mid-run and restarted.

Checked: no 5xx, no point handed out twice in a study (failed trials aside), every acknowledged observation and failure is
stored as acknowledged, trial numbers are unique, and the restarted process serves again.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict

import httpx
import pytest

from tests.multi_server import server_group

CLIENTS = 32
ROUNDS = 4
FAIL_EVERY = 5  # every 5th evaluation of a client fails instead of being observed
SPACE = [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}, {"name": "y", "type": "float", "low": -1.0, "high": 1.0}]
STUDIES = [("random", 0), ("random", 1), ("gp", 2), ("gp", 3)]


def _objective(params: dict) -> float:
    return (params["x"] - 0.3) ** 2 + (params["y"] + 0.2) ** 2


class Run:
    """What the clients were told (acknowledged) and every status they saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.observed: dict[str, float] = {}
        self.failed: set[str] = set()
        self.suggested: dict[str, list[dict]] = defaultdict(list)
        self.transport_errors = 0
        self.restarted = threading.Event()

    def record(self, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1


def _client(run: Run, urls: list[str], studies: list[str], index: int, barrier: threading.Barrier) -> None:
    sid = studies[index % len(studies)]
    clients = [httpx.Client(base_url=url, timeout=120) for url in urls]

    def call(path: str, body: dict) -> httpx.Response | None:
        """POST on this client's server, on the other one when it cannot be reached; None when the
        outcome is unknown (the connection broke after the request was sent)."""
        preferred = index % len(urls)
        for attempt in range(40):
            server = (preferred + attempt) % len(urls)
            try:
                response = clients[server].post(path, json=body)
            except httpx.ConnectError:
                time.sleep(0.05)
                continue  # nothing was sent: safe to try the other process
            except httpx.TransportError:
                with run.lock:
                    run.transport_errors += 1
                return None
            run.record(response)
            return response
        raise AssertionError("no server reachable")

    try:
        barrier.wait()
        for round_ in range(ROUNDS):
            response = call(f"/v1/studies/{sid}/suggest", {"client_id": f"c{index}"})
            if response is None or response.status_code != 200:
                continue
            trial = response.json()["trials"][0]
            with run.lock:
                run.suggested[sid].append(trial)
            if (index + round_) % FAIL_EVERY == 0:
                failed = call(f"/v1/studies/{sid}/trials/{trial['id']}/fail", {"reason": "injected"})
                if failed is not None and failed.status_code == 200:
                    with run.lock:
                        run.failed.add(trial["id"])
                continue
            value = _objective(trial["params"])
            observed = call(f"/v1/studies/{sid}/observe", {"trial_id": trial["id"], "values": {"f": value}})
            if observed is not None and observed.status_code == 200:
                with run.lock:
                    run.observed[trial["id"]] = value
    finally:
        for client in clients:
            client.close()


def _kill_and_restart(run: Run, group, target_acknowledged: int) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        with run.lock:
            if len(run.observed) + len(run.failed) >= target_acknowledged:
                break
        time.sleep(0.05)
    group.kill(0)
    group.restart(0)
    run.restarted.set()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_on_one_postgres_lose_nothing(fresh_postgres_url):
    with server_group(fresh_postgres_url, count=2) as group:
        urls = group.base_urls
        studies = []
        for surrogate, seed in STUDIES:
            created = httpx.post(f"{urls[seed % 2]}/v1/studies", timeout=60, json={
                "name": f"{surrogate}-{seed}", "parameters": SPACE, "objectives": [{"name": "f"}],
                "surrogate": surrogate, "seed": seed, "initial_design_size": 4})
            assert created.status_code == 201, created.text
            studies.append(created.json()["id"])
        run = Run()
        barrier = threading.Barrier(CLIENTS)
        threads = [threading.Thread(target=_client, args=(run, urls, studies, i, barrier)) for i in range(CLIENTS)]
        killer = threading.Thread(target=_kill_and_restart, args=(run, group, CLIENTS * ROUNDS // 4))
        for thread in [*threads, killer]:
            thread.start()
        for thread in [*threads, killer]:
            thread.join(timeout=600)
        assert run.restarted.is_set(), "the process was never killed and restarted"
        # The restarted process serves again (as it should after a crash).
        for sid in studies:
            assert httpx.get(f"{urls[0]}/v1/studies/{sid}", timeout=30).status_code == 200
        stored = {}
        for sid in studies:
            page = httpx.get(f"{urls[1]}/v1/studies/{sid}/trials", params={"limit": 1000}, timeout=60).json()
            stored[sid] = page["items"]

    assert not [code for code in run.statuses if code >= 500], run.statuses
    assert set(run.statuses) <= {200}, run.statuses
    acknowledged = len(run.observed) + len(run.failed)
    assert acknowledged >= CLIENTS * ROUNDS * 3 // 4, (acknowledged, run.transport_errors)
    by_id = {t["id"]: t for items in stored.values() for t in items}
    for trial_id, value in run.observed.items():
        assert by_id[trial_id]["state"] == "completed" and by_id[trial_id]["values"] == {"f": value}
    for trial_id in run.failed:
        assert by_id[trial_id]["state"] == "failed"
    for sid, items in stored.items():
        # No two clients evaluate one point. A failed trial's point is not part of what the policy
        # conditions on (neither observed nor pending), so proposing it again is possible by design.
        # (Repeated points between live trials were seen under load until 2026-12-04: a suggest's snapshot
        # on PostgreSQL read completed and pending trials in two statements at READ COMMITTED, and missed a
        # trial observed in between; reads now share one snapshot. See the storage contract's test.)
        live = [t for t in items if t["state"] != "failed"]
        points = [(round(t["params"]["x"], 12), round(t["params"]["y"], 12)) for t in live]
        twice = [(t["number"], t["state"], t["policy"], point) for t, point in zip(live, points)
                 if points.count(point) > 1]
        assert not twice, f"study {sid}: a point was handed out twice: {twice}"
        numbers = [t["number"] for t in items]
        assert len(set(numbers)) == len(numbers)
        assert {t["id"] for t in run.suggested[sid]} <= {t["id"] for t in items}
    policies = {t["policy"] for sid, (surrogate, _) in zip(studies, STUDIES) if surrogate == "gp" for t in stored[sid]}
    assert any(p.startswith("gp") for p in policies), policies  # the GP studies went past their initial design
