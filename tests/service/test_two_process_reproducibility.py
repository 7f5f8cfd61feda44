"""Two API processes on one PostgreSQL database give the suggestions one process gives.

The surrogate's warm state lives in the database, so which process answers a suggest does not
change the answer: a study driven through two processes, alternating, receives exactly the points
that an identical study (same seed, same observations) receives from a single process.
"""

from __future__ import annotations

import httpx
import pytest

from tests.multi_server import server_group

SPACE = [{"name": f"x{i}", "type": "float", "low": 0.0, "high": 1.0} for i in range(3)]
STEPS = 9


def _objective(params: dict) -> float:
    return sum((params[f"x{i}"] - 0.2 * (i + 1)) ** 2 for i in range(3)) + 0.1 * params["x0"] * params["x2"]


def _run(urls: list[str], name: str, surrogate: str, options: dict) -> list[dict]:
    """Create a study through urls[0], then suggest on urls[i % k] and observe on urls[(i + 1) % k]."""
    clients = [httpx.Client(base_url=url, timeout=300) for url in urls]
    try:
        body = {"name": name, "parameters": SPACE, "objectives": [{"name": "f"}], "surrogate": surrogate,
                "surrogate_options": options, "initial_design_size": 4, "seed": 11}
        created = clients[0].post("/v1/studies", json=body)
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        points = []
        for step in range(STEPS):
            answer = clients[step % len(clients)].post(f"/v1/studies/{sid}/suggest", json={"count": 1})
            assert answer.status_code == 200, answer.text
            trial = answer.json()["trials"][0]
            points.append({"params": trial["params"], "policy": trial["policy"]})
            observed = clients[(step + 1) % len(clients)].post(
                f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"f": _objective(trial["params"])}})
            assert observed.status_code == 200, observed.text
        return points
    finally:
        for client in clients:
            client.close()


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("surrogate, options", [
    ("gp", {}),
    ("lla", {"width": 16, "epochs": 200, "warm_epochs": 40}),
])
def test_two_processes_suggest_what_one_process_suggests(fresh_postgres_url, surrogate, options) -> None:
    with server_group(fresh_postgres_url, count=2, timeout=180) as group:
        first, second = group.base_urls
        shared = _run([first, second], "shared", surrogate, options)
        alone = _run([second], "alone", surrogate, options)
    assert sum(p["policy"] == surrogate for p in shared) >= STEPS - 4, shared  # the model phase is exercised
    assert shared == alone
