"""Many clients against a real uvicorn server: no duplicate trials, no lost observations, no 5xx."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from tests.live_server import live_server
from tests.multi_server import server_group

CLIENTS = 16
ROUNDS = 3
SPACE = [{"name": f"x{i}", "type": "float", "low": 0.0, "high": 1.0} for i in range(3)]


def _objective(params: dict) -> float:
    return sum((params[f"x{i}"] - 0.3) ** 2 for i in range(3))


def _hammer(*base_urls: str) -> None:
    """16 clients, spread over ``base_urls`` (server processes on one database), suggest and observe."""
    base_url = base_urls[0]
    study = httpx.post(
        f"{base_url}/v1/studies",
        json={"name": "crowd", "parameters": SPACE, "objectives": [{"name": "f"}], "surrogate": "gp",
              "initial_design_size": 32, "seed": 0},
        timeout=30,
    ).json()
    sid = study["id"]
    statuses: Counter = Counter()
    acknowledged: dict[str, float] = {}
    suggested: list[dict] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def worker(index: int) -> None:
        with httpx.Client(base_url=base_urls[index % len(base_urls)], timeout=120) as http:
            barrier.wait()
            for _ in range(ROUNDS):
                response = http.post(f"/v1/studies/{sid}/suggest", json={"client_id": f"c{index}"})
                with lock:
                    statuses[response.status_code] += 1
                if response.status_code != 200:
                    continue
                for trial in response.json()["trials"]:
                    value = _objective(trial["params"])
                    with lock:
                        suggested.append(trial)
                    obs = http.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"f": value}})
                    with lock:
                        statuses[obs.status_code] += 1
                    if obs.status_code == 200:
                        with lock:
                            acknowledged[trial["id"]] = value

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(n for code, n in statuses.items() if code >= 500) == 0, statuses
    assert set(statuses) == {200}, statuses
    assert len(suggested) == CLIENTS * ROUNDS
    ids = [t["id"] for t in suggested]
    numbers = [t["number"] for t in suggested]
    points = [tuple(round(t["params"][f"x{i}"], 12) for i in range(3)) for t in suggested]
    assert len(set(ids)) == len(ids) and len(set(numbers)) == len(numbers)
    assert len(set(points)) == len(points), "two clients received the same point"
    stored = httpx.get(f"{base_url}/v1/studies/{sid}/trials", params={"limit": 1000}, timeout=30).json()
    completed = {t["id"]: t["values"]["f"] for t in stored["items"] if t["state"] == "completed"}
    assert stored["total"] == CLIENTS * ROUNDS
    assert completed == acknowledged, "an acknowledged observation was lost"


def test_concurrent_clients_sqlite(tmp_path):
    with live_server(f"sqlite:///{tmp_path / 'crowd.db'}") as base_url:
        _hammer(base_url)


@pytest.mark.postgres
def test_concurrent_clients_postgres(fresh_postgres_url):
    with live_server(fresh_postgres_url) as base_url:
        _hammer(base_url)


@pytest.mark.postgres
def test_concurrent_clients_two_server_processes_postgres(fresh_postgres_url):
    with server_group(fresh_postgres_url, count=2, timeout=180) as group:
        _hammer(*group.base_urls)
