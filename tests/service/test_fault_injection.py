"""Faults: a killed server loses no acknowledged observation, a dropped database connection
gives 503 and a retry succeeds, a failing model fit still yields a suggestion."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from service.api.app import create_app
from service.config import Settings
from service.db import Database
from service.db.migrate import upgrade
from tests.live_server import ServerProcess

SPACE = [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}, {"name": "y", "type": "float", "low": 0.0, "high": 1.0}]


def _stream_until_killed(server: ServerProcess, sid: str, clients: int = 4) -> dict[str, float]:
    acknowledged: dict[str, float] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            while not stop.is_set():
                try:
                    trial = http.post(f"/v1/studies/{sid}/suggest", json={}).json()["trials"][0]
                    value = trial["params"]["x"] + trial["params"]["y"]
                    response = http.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"f": value}})
                except (httpx.HTTPError, KeyError, ValueError):
                    return
                if response.status_code == 200:
                    with lock:
                        acknowledged[trial["id"]] = value

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # SIGKILL in the middle of the stream
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    return acknowledged


def _check_after_restart(database_url: str, sid: str, acknowledged: dict[str, float]) -> None:
    server = ServerProcess(database_url)
    try:
        server.wait_ready()
        items = httpx.get(f"{server.base_url}/v1/studies/{sid}/trials", params={"limit": 1000}).json()["items"]
    finally:
        server.close()
    stored = {t["id"]: t for t in items}
    for trial_id, value in acknowledged.items():
        assert stored[trial_id]["state"] == "completed" and stored[trial_id]["values"] == {"f": value}
    for trial in items:  # no half-written trial
        if trial["state"] == "completed":
            assert trial["values"] is not None and trial["completed_at"] is not None
        else:
            assert trial["values"] is None
        if trial["state"] == "pending":
            assert trial["lease_expires_at"] is not None
    numbers = [t["number"] for t in items]
    assert len(numbers) == len(set(numbers))


def _kill_test(database_url: str) -> None:
    server = ServerProcess(database_url)
    try:
        server.wait_ready()
        study = httpx.post(f"{server.base_url}/v1/studies", json={"name": "crash", "parameters": SPACE,
                           "objectives": [{"name": "f"}], "surrogate": "random"}).json()
        acknowledged = _stream_until_killed(server, study["id"])
    finally:
        server.close()
    assert len(acknowledged) >= 10
    _check_after_restart(database_url, study["id"], acknowledged)


def test_sigkill_loses_no_acknowledged_observation_sqlite(tmp_path):
    _kill_test(f"sqlite:///{tmp_path / 'crash.db'}")


@pytest.mark.postgres
def test_sigkill_loses_no_acknowledged_observation_postgres(fresh_postgres_url):
    _kill_test(fresh_postgres_url)


@pytest.mark.postgres
def test_dropped_database_connection_gives_503_then_retry_succeeds(fresh_postgres_url, monkeypatch):
    postgres_url = fresh_postgres_url
    database = Database(postgres_url)
    upgrade(database)
    app = create_app(Settings(migrate_on_startup=False), database=database)
    import service.studies.trial_statements as statements_module

    real_insert = statements_module.insert_trials
    in_transaction = threading.Event()
    slow = {"on": True}

    def slow_insert(*args, **kwargs):
        """Runs inside suggest's write transaction: the connection is dropped while it is open."""
        if slow["on"]:
            in_transaction.set()
            time.sleep(1.5)
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(statements_module, "insert_trials", slow_insert)
    database_name = database.url.database
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with TestClient(app, raise_server_exceptions=False) as client:
        sid = client.post("/v1/studies", json={"name": "drop", "parameters": SPACE, "objectives": [{"name": "f"}],
                                                "surrogate": "random"}).json()["id"]
        result = {}
        thread = threading.Thread(target=lambda: result.update(r=client.post(f"/v1/studies/{sid}/suggest", json={})))
        thread.start()
        assert in_transaction.wait(10)
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
                {"d": database_name},
            )
        thread.join(30)
        response = result["r"]
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "unavailable" and "Traceback" not in response.text
        assert response.headers.get("retry-after") == "1"
        slow["on"] = False
        retry = client.post(f"/v1/studies/{sid}/suggest", json={})
        assert retry.status_code == 200, retry.text
        trials = client.get(f"/v1/studies/{sid}/trials").json()
        assert trials["total"] == 1  # the interrupted suggest wrote nothing
    admin.dispose()
    database.dispose()


def test_failing_model_fit_falls_back_instead_of_500(client, monkeypatch):
    import service.optimizers.gp as gp_module

    def broken_fit(*args, **kwargs):
        raise RuntimeError("injected fit failure")

    monkeypatch.setattr(gp_module, "fit_gp", broken_fit)
    sid = client.post("/v1/studies", json={"name": "fit", "parameters": SPACE, "objectives": [{"name": "f"}],
                                           "surrogate": "gp", "initial_design_size": 2}).json()["id"]
    for x, y in ((0.1, 0.2), (0.7, 0.4), (0.5, 0.9)):
        client.post(f"/v1/studies/{sid}/observe", json={"params": {"x": x, "y": y}, "values": {"f": x + y}})
    response = client.post(f"/v1/studies/{sid}/suggest", json={"count": 2})
    assert response.status_code == 200, response.text
    trials = response.json()["trials"]
    assert len(trials) == 2 and all(t["policy"] == "gp->sobol-fallback" for t in trials)
