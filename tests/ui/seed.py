"""Studies and jobs for the dashboard tests and screenshots, created through the public API."""

from __future__ import annotations

import math
import random

import httpx

SPACE = [
    {"name": "x", "type": "float", "low": -5.0, "high": 10.0},
    {"name": "y", "type": "float", "low": 0.0, "high": 15.0},
    {"name": "lr", "type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    {"name": "optimizer", "type": "categorical", "choices": ["adam", "sgd"]},
]


def objective(params: dict) -> float:
    """Branin in (x, y), a mild bowl in log10(lr) and an offset for sgd (when the space has it)."""
    x, y = params["x"], params["y"]
    branin = (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10
    return branin + 4.0 * (math.log10(params["lr"]) + 2.5) ** 2 + (3.0 if params.get("optimizer") == "sgd" else 0.0)


def create_study(client: httpx.Client, name: str, n_trials: int, seed: int = 0, *, categorical: bool = True) -> dict:
    """A GP study with ``n_trials`` completed trials observed at random points (no model fit on the way).

    ``categorical=False`` leaves out the categorical parameter (a plain GP fits faster).
    """
    space = SPACE if categorical else SPACE[:3]
    study = client.post("/v1/studies", json={"name": name, "parameters": space,
                                              "objectives": [{"name": "loss", "goal": "minimize"}]})
    study.raise_for_status()
    study_id = study.json()["id"]
    rng = random.Random(seed)
    for _ in range(n_trials):
        params = {"x": rng.uniform(-5, 10), "y": rng.uniform(0, 15), "lr": 10 ** rng.uniform(-4, -1)}
        if categorical:
            params["optimizer"] = rng.choice(["adam", "sgd"])
        client.post(f"/v1/studies/{study_id}/observe",
                    json={"params": params, "values": {"loss": objective(params)}}).raise_for_status()
    return client.get(f"/v1/studies/{study_id}").json()


def error_cost_latency(params: dict) -> dict:
    """Two conflicting objectives (error falls and cost rises with x) and a tracked latency."""
    x, y = params["x"], params["y"]
    return {"error": (x - 0.8) ** 2 + 0.1 * y, "cost": 1.0 + x - 0.5 * y, "latency": x + y}


def create_multiobjective_study(client: httpx.Client, name: str, n_trials: int, seed: int = 0, *,
                                objectives: tuple[str, ...] = ("error", "cost")) -> dict:
    """A study minimising ``objectives`` under ``latency <= 1.4``, ``n_trials`` outside observations at random points."""
    study = client.post("/v1/studies", json={
        "name": name,
        "parameters": [{"name": "x", "type": "float", "low": 0.0, "high": 1.0},
                       {"name": "y", "type": "float", "low": 0.0, "high": 1.0}],
        "objectives": [{"name": n, "goal": "minimize"} for n in objectives],
        "outcome_constraints": [{"metric": "latency", "op": "<=", "bound": 1.4}]})
    study.raise_for_status()
    study_id = study.json()["id"]
    rng = random.Random(seed)
    for _ in range(n_trials):
        params = {"x": rng.uniform(0, 1), "y": rng.uniform(0, 1)}
        values = {k: v for k, v in error_cost_latency(params).items() if k in (*objectives, "latency")}
        client.post(f"/v1/studies/{study_id}/observe", json={"params": params, "values": values}).raise_for_status()
    return client.get(f"/v1/studies/{study_id}").json()
