"""Enqueued points under 16 concurrent clients on a real server: handed out first, each once."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from tests.live_server import live_server
from tests.spaces.trees import THREE_LEVEL_TREE, check_point

CLIENTS = 16
QUEUED = 20


def _queued_point(i: int) -> dict:
    return {"model": "knn", "k": i + 1, "scale": bool(i % 2)}


def _round(base_url: str, sid: str, tag: str) -> list[dict]:
    """Every client suggests once, all at the same moment; returns the trials handed out.

    Client ids carry the round's ``tag``: a client asking again under the id that holds pending trials
    would get those back (held trials are re-offered), which is not what a new round of workers does.
    """
    handed: list[dict] = []
    statuses: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def worker(index: int) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as http:
            barrier.wait()
            response = http.post(f"/v1/studies/{sid}/suggest", json={"client_id": f"c{index}-{tag}"})
            with lock:
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    handed.extend(response.json()["trials"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == Counter({200: CLIENTS}), statuses
    return handed


def _run(base_url: str) -> None:
    sid = httpx.post(f"{base_url}/v1/studies", json={
        "name": "queue", "parameters": THREE_LEVEL_TREE, "objectives": [{"name": "f"}], "surrogate": "gp", "seed": 1,
    }, timeout=30).json()["id"]
    queued = []
    for i in range(QUEUED):
        response = httpx.post(f"{base_url}/v1/studies/{sid}/trials", json={"params": _queued_point(i)}, timeout=30)
        assert response.status_code == 201, response.text
        queued.append(response.json()["id"])

    first = _round(base_url, sid, "r1")
    ids = [t["id"] for t in first]
    assert len(ids) == CLIENTS and len(set(ids)) == CLIENTS
    assert set(ids) <= set(queued), "a new point was handed out while queued ones were waiting"
    assert all(t["state"] == "pending" and t["source"] == "enqueued" for t in first)

    second = _round(base_url, sid, "r2")
    ids2 = [t["id"] for t in second]
    assert len(set(ids2)) == CLIENTS and not set(ids2) & set(ids), "a queued point was handed out twice"
    assert set(queued) - set(ids) <= set(ids2), "a queued point was skipped"
    fresh = [t for t in second if t["id"] not in queued]
    assert len(fresh) == CLIENTS - (QUEUED - CLIENTS)
    for trial in first + second:
        check_point(trial["params"])
    stored = httpx.get(f"{base_url}/v1/studies/{sid}/trials", params={"limit": 1000}, timeout=30).json()
    assert stored["total"] == QUEUED + len(fresh)
    assert Counter(t["state"] for t in stored["items"]) == Counter({"pending": QUEUED + len(fresh)})


def test_enqueued_points_once_under_concurrency_sqlite(tmp_path):
    with live_server(f"sqlite:///{tmp_path / 'queue.db'}") as base_url:
        _run(base_url)


@pytest.mark.postgres
def test_enqueued_points_once_under_concurrency_postgres(fresh_postgres_url):
    with live_server(fresh_postgres_url) as base_url:
        _run(base_url)
