"""Suggest latency over HTTP against a real server, with Optuna's GPSampler as the peer.

For each history size n, a study on the 6-d Hartmann function is warm-started with n outside
observations, then ``--rounds`` suggest -> observe steps are timed at the client (so n grows by one
per step, as in real use). Optuna's ``GPSampler`` (the ``bench`` extra: ``pip install -e '.[bench]'``)
gets the same n observations in process and its ``ask`` is timed in the same way, one thread
(``limit_compute_threads(1)``: one torch and one BLAS thread, as the server gets with ``BDLOPT_TORCH_THREADS=1``). The rounds of all
contenders are interleaved (one bdlopt suggest, one Optuna ask, ...), so load on a shared machine hits
them alike: only the same-run ratio to Optuna (last column) is comparable between runs. p50 is over all
consecutive calls, including the first (cold) one and those that refit hyperparameters.

    python -m benchmarks.suggest_latency [--sizes 20,100,300,1000] [--surrogates gp,lla] [--rounds 15] [--peers optuna]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import torch

from benchmarks.problems import Problem, get_problem
from service.compute_threads import limit_compute_threads
from tests.live_server import live_server

OPTUNA = "optuna-gpsampler"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def history(problem: Problem, n: int, seed: int) -> list[dict[str, float]]:
    """``n`` uniformly random parameter dicts of ``problem`` (the same for every contender)."""
    generator = torch.Generator().manual_seed(seed)
    rows = torch.rand(n, len(problem.parameters), generator=generator, dtype=torch.float64).tolist()
    return [{p.name: p.low + u * (p.high - p.low) for p, u in zip(problem.parameters, row)} for row in rows]


def bdlopt_stepper(http: httpx.Client, problem: Problem, surrogate: str, n: int, seed: int,
                   options: dict | None = None) -> Callable[[], float]:
    """A study warm-started with ``history(n)``; each call of the result times one suggest (then observes)."""
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
    study = http.post("/v1/studies", json=body)
    study.raise_for_status()
    sid = study.json()["id"]
    for params in history(problem, n, seed):
        http.post(f"/v1/studies/{sid}/observe", json={"params": params, "values": {"f": problem.objective(params)}}).raise_for_status()

    def step() -> float:
        started = time.perf_counter()
        response = http.post(f"/v1/studies/{sid}/suggest", json={"count": 1})
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        trial = response.json()["trials"][0]
        http.post(f"/v1/studies/{sid}/observe", json={"trial_id": trial["id"], "values": {"f": problem.objective(trial["params"])}}).raise_for_status()
        return elapsed

    return step


def optuna_stepper(problem: Problem, n: int, seed: int) -> Callable[[], float]:
    """Optuna's GPSampler in process on ``history(n)``; each call times one ``ask`` (then tells)."""
    try:
        import optuna
    except ImportError as exc:  # the peer is optional: pip install -e '.[bench]'
        raise SystemExit("Optuna is not installed: pip install -e '.[bench]' (or pass --peers '')") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {p.name: optuna.distributions.FloatDistribution(p.low, p.high) for p in problem.parameters}
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed, n_startup_trials=5), direction="minimize")
    study.add_trials([
        optuna.trial.create_trial(params=params, distributions=distributions, value=problem.objective(params))
        for params in history(problem, n, seed)
    ])

    def step() -> float:
        started = time.perf_counter()
        trial = study.ask(distributions)
        elapsed = time.perf_counter() - started
        study.tell(trial, problem.objective(trial.params))
        return elapsed

    return step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,100,300,1000")
    parser.add_argument("--surrogates", default="gp,lla")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peers", default="optuna", help="'optuna' (Optuna's GPSampler in process) or '' (none)")
    parser.add_argument("--threads", default="1", help="BDLOPT_TORCH_THREADS of the server (1 is its default)")
    parser.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
    args = parser.parse_args(argv)
    limit_compute_threads(int(args.threads))  # the in-process peer gets what the server gets
    sizes = [int(s) for s in args.sizes.split(",")]
    surrogates = [s for s in args.surrogates.split(",") if s]
    with_optuna = "optuna" in args.peers.split(",")
    problem = get_problem("hartmann6")
    rows = []
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'latency.db'}"
        with live_server(url, port=args.port, extra_env={"BDLOPT_TORCH_THREADS": args.threads, "BDLOPT_LOG_LEVEL": "WARNING"}) as base_url, \
                httpx.Client(base_url=base_url, timeout=600) as http:
            for n in sizes:
                rounds = args.rounds if n <= 200 else max(5, args.rounds // 2)
                steppers = {s: bdlopt_stepper(http, problem, s, n, args.seed) for s in surrogates}
                if with_optuna:
                    steppers[OPTUNA] = optuna_stepper(problem, n, args.seed)
                latencies: dict[str, list[float]] = {name: [] for name in steppers}
                for _ in range(rounds):  # interleaved: load hits every contender alike
                    for name, step in steppers.items():
                        latencies[name].append(step())
                peer = statistics.median(latencies[OPTUNA]) if with_optuna else None
                for name, lat in latencies.items():
                    p50 = statistics.median(lat)
                    rows.append((name, n, len(lat), p50, _percentile(lat, 0.95), max(lat), None if peer is None else p50 / peer))
                    print(f"  {name} n={n}: p50 {p50:.3f} s", flush=True)
    load = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(load_start, os.getloadavg()))
    print(f"\nSuggest latency (Hartmann6, d = 6, count = 1, seed {args.seed}, {args.threads} torch thread(s); bdlopt over HTTP, "
          f"Optuna {'in process' if with_optuna else 'not run'}; rounds interleaved; {os.cpu_count()} CPUs, "
          f"load average 1/5/15 min at start/end: {load})\n")
    print("| contender | n | calls | p50 (s) | p95 (s) | max (s) | p50 / Optuna p50 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, n, calls, p50, p95, worst, ratio in rows:
        shown = "-" if ratio is None else f"{ratio:.2f}"
        print(f"| {name} | {n} | {calls} | {p50:.3f} | {p95:.3f} | {worst:.3f} | {shown} |")


if __name__ == "__main__":
    main()
