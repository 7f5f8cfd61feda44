"""Suggest latency over HTTP against a real server.

For each history size n, a study on the 6-d Hartmann function is warm-started with n outside
observations, then ``--rounds`` suggest -> observe steps are timed at the client (so n grows by one
per step, as in real use). Prints p50/p95 per surrogate and n.

    python -m benchmarks.suggest_latency [--sizes 20,100,500] [--surrogates gp] [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import torch

from benchmarks.problems import get_problem
from tests.live_server import live_server


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure(base_url: str, surrogate: str, n: int, rounds: int, seed: int, options: dict | None = None) -> list[float]:
    """Suggest latencies (seconds) for one study warm-started with ``n`` observations."""
    problem = get_problem("hartmann6")
    body = {
        "name": f"latency-{surrogate}-{n}",
        "parameters": [p.model_dump() for p in problem.parameters],
        "objectives": [{"name": "f", "goal": "minimize"}],
        "surrogate": surrogate,
        "seed": seed,
        "initial_design_size": 5,
    }
    if options:
        body["surrogate_options"] = options
    generator = torch.Generator().manual_seed(seed)
    with httpx.Client(base_url=base_url, timeout=600) as http:
        study = http.post("/v1/studies", json=body)
        study.raise_for_status()
        sid = study.json()["id"]
        for row in torch.rand(n, len(problem.parameters), generator=generator, dtype=torch.float64).tolist():
            params = {p.name: p.low + u * (p.high - p.low) for p, u in zip(problem.parameters, row)}
            http.post(f"/v1/studies/{sid}/observe", json={"params": params, "values": {"f": problem.objective(params)}}).raise_for_status()
        latencies = []
        for _ in range(rounds):
            started = time.perf_counter()
            response = http.post(f"/v1/studies/{sid}/suggest", json={"count": 1})
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
            trial = response.json()["trials"][0]
            http.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"f": problem.objective(trial["params"])}}).raise_for_status()
    return latencies


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,100,500")
    parser.add_argument("--surrogates", default="gp")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", default="1", help="BDLOPT_TORCH_THREADS of the server (1 is its default)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    surrogates = args.surrogates.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'latency.db'}"
        with live_server(url, extra_env={"BDLOPT_TORCH_THREADS": args.threads, "BDLOPT_LOG_LEVEL": "WARNING"}) as base_url:
            for surrogate in surrogates:
                for n in sizes:
                    rounds = args.rounds if n <= 200 else max(5, args.rounds // 2)
                    lat = measure(base_url, surrogate, n, rounds, args.seed)
                    rows.append((surrogate, n, len(lat), statistics.median(lat), _percentile(lat, 0.95), max(lat)))
                    print(f"  {surrogate} n={n}: p50 {rows[-1][3]:.3f} s", flush=True)
    print(f"\nSuggest latency over HTTP (Hartmann6, d = 6, count = 1, seed {args.seed}, server threads {args.threads})\n")
    print("| surrogate | n | calls | p50 (s) | p95 (s) | max (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for surrogate, n, calls, p50, p95, worst in rows:
        print(f"| {surrogate} | {n} | {calls} | {p50:.3f} | {p95:.3f} | {worst:.3f} |")


if __name__ == "__main__":
    main()
