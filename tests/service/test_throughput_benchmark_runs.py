"""``benchmarks.throughput``'s HTTP driver counts only acknowledged trials (a smoke test on SQLite
with two clients for one second; the benchmark itself is never timed in the suite)."""

from __future__ import annotations

import httpx

from benchmarks.throughput import drive
from tests.live_server import live_server


def test_driver_counts_completed_trials_that_the_server_stored(tmp_path):
    with live_server(f"sqlite:///{tmp_path / 'tp.db'}", extra_env={"BDLOPT_LOG_LEVEL": "WARNING"}) as base_url:
        done, seconds, errors = drive([base_url], clients=2, seconds=1.0, seed=0)
        (study,) = httpx.get(f"{base_url}/v1/studies", timeout=30).json()["items"]
        counts = study["trial_counts"]
    assert errors == 0 and done > 0 and 0.9 < seconds < 30
    # Counted at the deadline; clients finish the trial they are in, so the store may hold a few more.
    assert done <= counts["completed"] <= done + 2


def test_the_http_ceiling_app_answers_the_driver_without_errors():
    from benchmarks.throughput import ceiling_server

    with ceiling_server() as url:
        done, seconds, errors = drive([url], clients=2, seconds=0.5, seed=0)
        trial = httpx.post(f"{url}/v1/studies/s/suggest", json={}, timeout=30).json()["trials"][0]
        bad = httpx.post(f"{url}/v1/studies/s/observe", json={"trial_id": trial["id"]}, timeout=30)
    assert errors == 0 and done > 0
    # It validates the observe body as bdlopt does, so the comparison is not against a bare socket.
    assert set(trial) >= {"id", "params", "state"} and bad.status_code == 422


def test_configurations_parse_and_unknown_ones_are_refused():
    import pytest

    from benchmarks.throughput import parse_config

    assert parse_config("sqlite") == ("sqlite", "x", 1)
    assert parse_config("postgres-x2") == ("postgres", "x", 2)
    assert parse_config("sqlite-w3") == ("sqlite", "w", 3)
    for bad in ("sqlite-y2", "sqlite-x", "sqlite-wtwo"):
        with pytest.raises(SystemExit):
            parse_config(bad)
