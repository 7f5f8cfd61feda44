"""Conditional search spaces: bdlopt (gp, lla, random) against Optuna's TPE and GPSampler in one run.

Tasks (``conditional_tasks``): a scikit-learn model choice with per-model parameters (cross-
validated error on bundled data) and a synthetic three-level tree with a known optimum. Every
method gets the same budget and initial-design size; bdlopt runs through the SDK against an
in-process app on a temporary SQLite database, Optuna with its define-by-run interface on the
same space (a parameter is suggested only when active). Prints a markdown table (median best,
IQR, per-seed bests, same-run ratios of each method's median best to TPE's) and writes best-so-far
plots.

    nice -n 10 python -m benchmarks.conditional [--tasks sklearn_models,synthetic_tree]
        [--methods gp,lla,random,tpe,optuna_gp] [--seeds 5] [--budget 20] [--initial 6] [--plots benchmarks/results]
        [--workers 1] [--options 'LABEL=JSON' ...]

A bdlopt method may carry a label (``gp-raw:gp``) and ``--options LABEL=JSON`` its
``surrogate_options``: an ablation runs beside the default in the same run.

``--workers N`` runs the (task, method, seed) runs in N processes of this one invocation (each
with its own in-process app and database); the table is the same, the wall time shorter.

Optuna is a benchmark-only dependency: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.conditional_tasks import TASKS, ConditionalTask
from benchmarks.method_specs import parse_methods, parse_options
from service.api.app import create_app
from service.compute_threads import limit_compute_threads
from service.config import Settings
from service.db import Database
from service.db.migrate import upgrade
from service.sdk import Client
from service.space import SearchSpace, validate_parameter_list

BDLOPT_METHODS = ("gp", "lla", "random")
OPTUNA_METHODS = ("tpe", "optuna_gp")


def run_job(job: tuple[str, str, int, int, int, str, dict | None]) -> tuple[str, str, int, list[float], float]:
    """One ``(task, label, seed, budget, initial, surrogate, options)`` run in a fresh in-process app:
    ``(task, label, seed, values, seconds)``."""
    from fastapi.testclient import TestClient

    name, method, seed, budget, initial, surrogate, options = job
    limit_compute_threads(1)
    task = TASKS[name]
    started = time.perf_counter()
    if surrogate in OPTUNA_METHODS:
        values = run_optuna(task, surrogate, seed, budget, initial)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            database = Database(f"sqlite:///{Path(tmp) / 'conditional.db'}")
            upgrade(database)
            settings = Settings(data_dir=Path(tmp), migrate_on_startup=False, rate_limit_suggest_per_minute=0)
            with TestClient(create_app(settings, database=database)) as http:
                values = run_bdlopt(Client(http_client=http), task, surrogate, seed, budget, initial, options,
                                    label=method)
    seconds = time.perf_counter() - started
    print(f"  {name} {method} seed {seed}: best {min(values):.5f} ({seconds:.0f} s)", flush=True)
    return name, method, seed, values, seconds


def run_bdlopt(client: Client, task: ConditionalTask, method: str, seed: int, budget: int, initial: int,
               options: dict | None = None, label: str | None = None) -> list[float]:
    """Objective values in evaluation order (``method``: the surrogate; ``label`` names the study)."""
    study = client.create_study(f"{task.name}-{label or method}-{seed}", task.parameters, objective="f",
                                goal="minimize", surrogate=method, seed=seed, initial_design_size=initial,
                                surrogate_options=options or None)
    client.optimize(task.objective, study, n_trials=budget, progress=False)
    trials = sorted(client.trials(study.id, state="completed"), key=lambda t: t.number)
    return [t.values["f"] for t in trials]


def optuna_params(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """Define-by-run sampling of ``space``: each parameter is asked for only when it is active."""
    params: dict[str, Any] = {}
    for p in space.all_parameters:
        if p.name not in space.active_names(params):
            continue
        if p.type == "fixed":
            params[p.name] = p.value
        elif p.type == "categorical":
            params[p.name] = trial.suggest_categorical(p.name, p.choices)
        elif p.type == "bool":
            params[p.name] = trial.suggest_categorical(p.name, [False, True])
        elif p.type == "int":
            params[p.name] = trial.suggest_int(p.name, p.low, p.high, step=p.step or 1, log=p.log)
        else:
            params[p.name] = trial.suggest_float(p.name, p.low, p.high, step=p.step, log=p.log)
    return params


def run_optuna(task: ConditionalTask, method: str, seed: int, budget: int, initial: int) -> list[float]:
    """Objective values in evaluation order (TPE or GPSampler, ``initial`` random start-up trials)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if method == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=initial, warn_independent_sampling=False)
    else:
        sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=initial, warn_independent_sampling=False)
    space = SearchSpace(validate_parameter_list(task.parameters))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(lambda trial: task.objective(optuna_params(trial, space)), n_trials=budget)
    return [t.value for t in study.trials]


def best_so_far(values: list[float]) -> list[float]:
    curve, best = [], float("inf")
    for value in values:
        best = min(best, value)
        curve.append(best)
    return curve


def plot(task: ConditionalTask, curves: dict[str, list[list[float]]], initial: int, path: Path) -> None:
    """Median best so far with the inter-quartile band per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, runs in curves.items():
        data = torch.tensor(runs, dtype=torch.float64)
        if task.optimum is not None:
            data = (data - task.optimum).clamp_min(1e-6)
        steps = torch.arange(1, data.shape[1] + 1)
        q = torch.quantile(data, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64), dim=0)
        ax.plot(steps, q[1], label=method)
        ax.fill_between(steps, q[0], q[2], alpha=0.2)
    ax.set_yscale("log")
    ax.axvline(initial, color="grey", linestyle=":", linewidth=0.8, label="end of initial design")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("simple regret" if task.optimum is not None else "best cross-validated error so far")
    ax.set_title(f"{task.name}: median and IQR over {len(next(iter(curves.values())))} seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--methods", default=",".join(BDLOPT_METHODS + OPTUNA_METHODS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=20, help="evaluations per run")
    parser.add_argument("--initial", type=int, default=6, help="initial design / start-up trials of every method")
    parser.add_argument("--plots", default="benchmarks/results")
    parser.add_argument("--workers", type=int, default=1, help="processes running the (task, method, seed) runs")
    parser.add_argument("--options", action="append", default=[], help="LABEL=JSON surrogate_options (repeatable)")
    args = parser.parse_args(argv)
    limit_compute_threads(1)
    kinds = parse_methods(args.methods)
    methods = list(kinds)
    for method, kind in kinds.items():
        if kind not in BDLOPT_METHODS + OPTUNA_METHODS:
            parser.error(f"unknown method {kind!r} (known: {', '.join(BDLOPT_METHODS + OPTUNA_METHODS)})")
    options = parse_options(args.options)
    for label in options:
        if label not in kinds or kinds[label] not in BDLOPT_METHODS:
            parser.error(f"--options for '{label}', which is not a bdlopt method of this run")
    out = Path(args.plots)
    out.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    names = args.tasks.split(",")
    jobs = [(name, method, seed, args.budget, args.initial, kinds[method], options.get(method)) for name in names
            for method in methods for seed in range(args.seeds)]
    jobs.sort(key=lambda job: job[5] not in ("gp", "lla"))  # the long runs first, spread over the workers
    if args.workers > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            results = pool.map(run_job, jobs, chunksize=1)
    else:
        results = [run_job(job) for job in jobs]
    rows = []
    for name in names:
        task = TASKS[name]
        curves: dict[str, list[list[float]]] = {}
        for method in methods:
            runs = sorted((r for r in results if r[0] == name and r[1] == method), key=lambda r: r[2])
            curves[method] = [best_so_far(r[3]) for r in runs]
            rows.append((task, method, [c[-1] for c in curves[method]], statistics.median(r[4] for r in runs)))
        plot(task, curves, args.initial, out / f"conditional_{name}.png")
    load = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(load_start, os.getloadavg()))
    print(f"\nBest value (minimise) after {args.budget} evaluations ({args.initial} initial); seeds 0..{args.seeds - 1}; "
          f"{os.cpu_count()} CPUs, {args.workers} worker(s) of 1 torch thread, load average 1/5/15 min at start/end: {load}\n")
    print("| task | method | median best | IQR | per-seed best | median best / TPE's | median run (s) |")
    print("|---|---|---:|---|---|---:|---:|")
    tpe = {task.name: statistics.median(finals) for task, method, finals, _ in rows if method == "tpe"}
    for task, method, finals, secs in rows:
        q = statistics.quantiles(finals, n=4) if len(finals) > 1 else [finals[0]] * 3
        median = statistics.median(finals)
        ratio = f"{median / tpe[task.name]:.3f}" if tpe.get(task.name) else "-"
        seeds = ", ".join(f"{v:.4f}" for v in finals)
        print(f"| {task.name} | {method} | {median:.5f} | {q[0]:.4f}-{q[2]:.4f} | {seeds} | {ratio} | {secs:.0f} |")


if __name__ == "__main__":
    main()
