"""Optimisation quality of each surrogate through the whole service (SDK -> API -> database).

For every problem, surrogate and seed, a study is run with ``Client.optimize`` against an
in-process app on a temporary SQLite database. Prints a markdown table of final best values,
simple regret and median suggest latency, and writes best-so-far curves as PNG plots.

The peer ``optuna`` (in ``--surrogates``; the ``bench`` extra: ``pip install -e '.[bench]'``) is
Optuna's ``GPSampler`` run in process with the same budget: ``n_startup_trials`` = the problem's
initial-design size (its default independent sampler draws those at random), seed = the seed.

    python -m benchmarks.bo_quality [--problems branin,hartmann6,ackley10,levy10,gramacy_lee2d]
                                    [--surrogates random,gp,lla,optuna] [--seeds 5] [--plots benchmarks/results]
                                    [--options 'LABEL=JSON' ...]

A surrogate may carry a label (``gp-raw:gp``) and ``--options LABEL=JSON`` its ``surrogate_options``,
so an ablation runs beside the default in the same run.

The machine's load average is printed with the table (latencies on a shared machine are noisy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.method_specs import parse_methods, parse_options
from benchmarks.problems import PROBLEM_NAMES, Problem, get_problem
from service.api.app import create_app
from service.compute_threads import limit_compute_threads
from service.config import Settings
from service.db import Database
from service.db.migrate import upgrade
from service.sdk import Client


def run_one(client: Client, problem: Problem, surrogate: str, seed: int, options: dict | None,
            label: str | None = None) -> tuple[list[float], list[float]]:
    """Best-so-far curve (one value per evaluation) and the suggest latencies after the initial design
    (``label`` names the study: several labels may run one surrogate with different options)."""
    study = client.create_study(
        f"{problem.name}-{label or surrogate}-{seed}",
        [p.model_dump() for p in problem.parameters],
        objective="f",
        goal="minimize",
        surrogate=surrogate,
        seed=seed,
        initial_design_size=problem.n_initial,
        surrogate_options=options or None,
    )
    latencies: list[float] = []
    suggest = client.suggest

    def timed_suggest(*args, **kwargs):
        started = time.perf_counter()
        try:
            return suggest(*args, **kwargs)
        finally:
            latencies.append(time.perf_counter() - started)

    client.suggest = timed_suggest  # type: ignore[method-assign]
    try:
        client.optimize(problem.objective, study, n_trials=problem.n_total, progress=False)
    finally:
        client.suggest = suggest  # type: ignore[method-assign]
    values = [t.values["f"] for t in sorted(client.trials(study.id, state="completed"), key=lambda t: t.number)]
    curve, best = [], float("inf")
    for value in values:
        best = min(best, value)
        curve.append(best)
    return curve, latencies[problem.n_initial:]  # model-phase suggestions only (batch size 1)


def run_optuna(problem: Problem, seed: int) -> tuple[list[float], list[float]]:
    """The peer: Optuna's GPSampler in process; best-so-far curve and the model-phase ``ask`` latencies."""
    try:
        import optuna
    except ImportError as exc:  # the peer is optional: pip install -e '.[bench]'
        raise SystemExit("Optuna is not installed: pip install -e '.[bench]'") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=problem.n_initial)
    study = optuna.create_study(sampler=sampler, direction="minimize")
    distributions = {p.name: optuna.distributions.FloatDistribution(p.low, p.high) for p in problem.parameters}
    curve, latencies, best = [], [], float("inf")
    for _ in range(problem.n_total):
        started = time.perf_counter()
        trial = study.ask(distributions)
        latencies.append(time.perf_counter() - started)
        value = problem.objective(trial.params)
        study.tell(trial, value)
        best = min(best, value)
        curve.append(best)
    return curve, latencies[problem.n_initial:]


def plot(problem: Problem, curves: dict[str, list[list[float]]], path: Path) -> None:
    """Median simple regret (best so far - optimum, log scale) with the inter-quartile band per surrogate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for surrogate, runs in curves.items():
        data = (torch.tensor(runs, dtype=torch.float64) - problem.optimum).clamp_min(1e-6)
        steps = torch.arange(1, data.shape[1] + 1)
        q = torch.quantile(data, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64), dim=0)
        ax.plot(steps, q[1], label=surrogate)
        ax.fill_between(steps, q[0], q[2], alpha=0.2)
    ax.set_yscale("log")
    ax.axvline(problem.n_initial, color="grey", linestyle=":", linewidth=0.8, label="end of initial design")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("simple regret (best so far - optimum)")
    ax.set_title(f"{problem.name}: median and IQR over {len(next(iter(curves.values())))} seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default=",".join(PROBLEM_NAMES))
    parser.add_argument("--surrogates", default="random,gp,optuna",
                        help="bdlopt surrogates (optionally LABEL:SURROGATE) and the peer 'optuna'")
    parser.add_argument("--options", action="append", default=[], help="LABEL=JSON surrogate_options (repeatable)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--plots", default="benchmarks/results", help="directory for PNG plots")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app sets BDLOPT_TORCH_THREADS, default 1)")
    args = parser.parse_args(argv)
    limit_compute_threads(args.threads)
    problems = [get_problem(name) for name in args.problems.split(",")]
    surrogates = parse_methods(args.surrogates)
    options = parse_options(args.options)
    for label in options:
        if label not in surrogates or surrogates[label] == "optuna":
            parser.error(f"--options for '{label}', which is not a bdlopt surrogate of this run")
    for name in args.problems.split(","):
        assert name in PROBLEM_NAMES, name
    out = Path(args.plots)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    load_start = os.getloadavg()
    from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{Path(tmp) / 'quality.db'}")
        upgrade(database)
        # no rate limit: the benchmark is one trusted client running as fast as it can
        settings = Settings(data_dir=Path(tmp), migrate_on_startup=False, rate_limit_suggest_per_minute=0)
        app = create_app(settings, database=database)
        with TestClient(app) as http:
            client = Client(http_client=http)
            for problem in problems:
                curves: dict[str, list[list[float]]] = {}
                for surrogate, kind in surrogates.items():
                    finals, lat_all = [], []
                    for seed in range(args.seeds):
                        if kind == "optuna":
                            curve, lat = run_optuna(problem, seed)
                        else:
                            curve, lat = run_one(client, problem, kind, seed, options.get(surrogate), label=surrogate)
                        curves.setdefault(surrogate, []).append(curve)
                        finals.append(curve[-1])
                        lat_all.extend(lat)
                        print(f"  {problem.name} {surrogate} seed {seed}: best {curve[-1]:.4f}", flush=True)
                    quartiles = statistics.quantiles(finals, n=4) if len(finals) > 1 else [finals[0]] * 3
                    rows.append((problem, surrogate, finals, quartiles, statistics.median(lat_all)))
                plot(problem, curves, out / f"bo_quality_{problem.name}.png")
    load = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(load_start, os.getloadavg()))
    print(f"\nFinal best value (minimise) after the problem's budget; seeds 0..{args.seeds - 1}; "
          f"{os.cpu_count()} CPUs, {args.threads} torch threads, load average 1/5/15 min at start/end: {load}\n")
    print("| problem | budget (initial) | surrogate | median best | IQR | median regret | per-seed best | median model-phase suggest (s) |")
    print("|---|---|---|---:|---|---:|---|---:|")
    for problem, surrogate, finals, q, lat in rows:
        regret = statistics.median(finals) - problem.optimum
        seeds = ", ".join(f"{v:.3f}" for v in finals)
        print(f"| {problem.name} | {problem.n_total} ({problem.n_initial}) | {surrogate} | {statistics.median(finals):.4f} | "
              f"[{q[0]:.3f}, {q[2]:.3f}] | {regret:.4f} | {seeds} | {lat:.3f} |")
    print(f"\nPlots: {out}/bo_quality_<problem>.png")


if __name__ == "__main__":
    main()
