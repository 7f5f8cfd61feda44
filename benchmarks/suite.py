"""A broad BO-quality benchmark suite: bdlopt's surrogates against Optuna on 23 tasks, Bayesmark-style scores.

Tasks: the 13 synthetic functions of ``benchmarks.suite_functions`` (known optima) and the 10
scikit-learn tuning tasks of ``benchmarks.suite_sklearn`` (bundled datasets, 3-fold CV loss).
Contenders, all in the same run with the same budget, initial-design size and seed:

* bdlopt surrogates (``random``, ``gp``, ``lla``, or any other surrogate name the service knows,
  e.g. ``auto``), each study run through the whole service exactly as ``benchmarks.bo_quality``
  does (SDK ``Client.optimize`` against an in-process app on a temporary SQLite database);
* ``optuna-gp`` / ``optuna-tpe``: Optuna's ``GPSampler`` / ``TPESampler`` in process, with the
  task's space mapped to Optuna's distributions (log floats, ints, categoricals) as in
  ``benchmarks.conditional`` and ``n_startup_trials`` = the initial-design size.

Scores (``benchmarks.suite_scoring``): per task, 100 * (random's median final best - best) /
(random's median final best - optimum); the optimum of a tuning task is the best value seen by any
method in any seed of this run. Prints a markdown table per task and a summary (mean over tasks of
each method's median score), writes a PNG chart and the raw runs as JSON (``--from-json`` re-renders
the tables from that file without running anything).

    python -m benchmarks.suite [--quick] [--tasks a,b,...] [--methods random,gp,lla,optuna-gp,optuna-tpe]
        [--seeds 5] [--budget N] [--initial M] [--jobs 2] [--plots benchmarks/results]
        [--options 'gp={"key": value}'] [--from-json benchmarks/results/suite.json]

A method may be given as ``label:surrogate`` (e.g. ``gp-fast:gp``) to run one surrogate under two
``--options`` sets; ``--options LABEL=JSON`` (repeatable) passes ``surrogate_options`` to that
label's studies. ``--budget`` replaces every task's evaluation count (the initial design then
scales to a fifth of it, at least 2, unless ``--initial`` is given).

Default size: 5 seeds x 23 tasks x 5 methods, 40-60 evaluations each. Estimated 90 minutes with
``--jobs 2`` on this project's shared 2-core machine, from measured runs during which another process
kept the load average at 3-5 (on 2 free cores it is shorter, by how much was not measured): a 3-seed run without ``lla``
took 1582 s wall (mean seconds per run: gp 32, optuna-gp 6.9, random 4.2, optuna-tpe 2.7, objective
time included) and a 1-seed ``lla`` run 47 s per run. ``--seeds 3`` or ``--budget 40`` shortens it.
``--quick``: 2 seeds, 5 tasks, 20 evaluations (6 initial): 134-173 s measured.
Workers are ``spawn`` processes with one torch / BLAS thread each; at most 2.
"""

from __future__ import annotations

import argparse
from collections import Counter
import dataclasses
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.method_specs import parse_methods, parse_options
from benchmarks.problems import Problem
from benchmarks.suite_functions import SYNTHETIC_NAMES, get_synthetic
from benchmarks.suite_scoring import RANDOM, method_order, plot_scores, score_tasks, summary_table, task_tables
from benchmarks.suite_sklearn import SKLEARN_NAMES, get_sklearn

TASK_NAMES: list[str] = SYNTHETIC_NAMES + SKLEARN_NAMES
OPTUNA_METHODS = {"optuna-gp": "optuna_gp", "optuna-tpe": "tpe"}  # suite name -> benchmarks.conditional name
DEFAULT_METHODS = "random,gp,lla,optuna-gp,optuna-tpe"
QUICK_TASKS = "six_hump_camel,log_scaled3,mixed4,svc_breast,svr_diabetes"
MAX_JOBS = 2


def get_task(name: str) -> Problem:
    """The synthetic problem or tuning task called ``name`` (one of ``TASK_NAMES``)."""
    return get_synthetic(name) if name in SYNTHETIC_NAMES else get_sklearn(name)


def known_optimum(problem: Problem) -> float | None:
    """The task's known global minimum, or None for a tuning task (its ``optimum`` is NaN)."""
    return None if math.isnan(problem.optimum) else problem.optimum


def sized(problem: Problem, budget: int | None, initial: int | None) -> Problem:
    """``problem`` with its evaluation count and initial-design size replaced where given."""
    n_total = budget or problem.n_total
    if initial is not None:
        n_initial = initial
    elif budget is not None:
        n_initial = max(2, round(budget * problem.n_initial / problem.n_total))
    else:
        n_initial = problem.n_initial
    if not 1 <= n_initial <= n_total:
        raise ValueError(f"{problem.name}: initial design {n_initial} must be within 1..{n_total}")
    return dataclasses.replace(problem, n_initial=n_initial, n_total=n_total)


def _limit_threads() -> None:
    """One intra-op thread for torch and the BLAS libraries of this process (and its children);
    Optuna's and Starlette's deprecation warnings silenced (they repeat once per run)."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")
    warnings.filterwarnings("ignore", message=".*httpx.*")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BDLOPT_TORCH_THREADS"):
        os.environ[var] = "1"
    import torch

    torch.set_num_threads(1)


def _run_bdlopt(problem: Problem, surrogate: str, seed: int,
                options: dict[str, Any] | None) -> tuple[list[float], dict[str, int]]:
    """Best-so-far curve of one study through a fresh in-process app on a temporary SQLite database,
    and how many of its trials each policy proposed (``auto:gp``, ``auto:lla``, ``sobol``, ...)."""
    from fastapi.testclient import TestClient

    from benchmarks.bo_quality import run_one
    from service.api.app import create_app
    from service.config import Settings
    from service.db import Database
    from service.db.migrate import upgrade
    from service.sdk import Client

    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{Path(tmp) / 'suite.db'}")
        upgrade(database)
        settings = Settings(data_dir=Path(tmp), migrate_on_startup=False, rate_limit_suggest_per_minute=0)
        with TestClient(create_app(settings, database=database)) as http:
            client = Client(http_client=http)
            curve, _ = run_one(client, problem, surrogate, seed, options)
            (study,) = client.list_studies().items
            policies = Counter(t.policy or "outside" for t in client.trials(study.id))  # outside: attached observations
        database.dispose()
    return curve, dict(sorted(policies.items()))


def _run_optuna(problem: Problem, method: str, seed: int) -> list[float]:
    """Best-so-far curve of Optuna's sampler ``method`` ("optuna_gp" or "tpe") on ``problem``."""
    from benchmarks.conditional import best_so_far, run_optuna

    return best_so_far(run_optuna(problem, method, seed, problem.n_total, problem.n_initial))


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One (task, method, seed) run; ``job`` holds task, method (label), surrogate, seed, budget, initial,
    options. Returns the run record ``{task, method, seed, curve, seconds, policies}`` (``policies``:
    trials per proposing policy, bdlopt methods only)."""
    _limit_threads()
    problem = sized(get_task(job["task"]), job["budget"], job["initial"])
    started = time.perf_counter()
    policies: dict[str, int] = {}
    if job["surrogate"] in OPTUNA_METHODS:
        curve = _run_optuna(problem, OPTUNA_METHODS[job["surrogate"]], job["seed"])
    else:
        curve, policies = _run_bdlopt(problem, job["surrogate"], job["seed"], job["options"])
    if len(curve) != problem.n_total:
        raise RuntimeError(f"{job['task']} {job['method']} seed {job['seed']}: {len(curve)} of {problem.n_total} evaluations")
    return {"task": job["task"], "method": job["method"], "seed": job["seed"], "curve": curve,
            "seconds": time.perf_counter() - started, "policies": policies}


def run_all(jobs: list[dict[str, Any]], n_jobs: int, log: bool = True) -> list[dict[str, Any]]:
    """All ``jobs`` in ``n_jobs`` spawn processes (1: in this process); records in completion order."""
    _limit_threads()
    started = time.perf_counter()
    records: list[dict[str, Any]] = []

    def note(record: dict[str, Any]) -> None:
        records.append(record)
        if log:
            print(f"  [{len(records)}/{len(jobs)} {time.perf_counter() - started:5.0f} s] {record['task']} "
                  f"{record['method']} seed {record['seed']}: best {record['curve'][-1]:.5g} "
                  f"({record['seconds']:.1f} s)", flush=True)

    if n_jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(n_jobs) as pool:
            for record in pool.imap_unordered(run_job, jobs, chunksize=1):
                note(record)
    else:
        for job in jobs:
            note(run_job(job))
    return records


def report(data: dict[str, Any], plots: Path, stem: str) -> str:
    """Markdown report of a run (``data``: the JSON written by ``main``); also writes ``<stem>.png``."""
    config = data["config"]
    optima = data["known_optima"]
    results = score_tasks(data["records"], optima)
    methods = method_order(results, list(config["methods"]))
    groups = {"synthetic": [t for t in optima if t in SYNTHETIC_NAMES],
              "sklearn": [t for t in optima if t in SKLEARN_NAMES]}
    groups = {g: names for g, names in groups.items() if names}
    plot_scores(results, methods, plots / f"{stem}.png",
                f"Normalised scores, {config['seeds']} seeds (random's median = 0, optimum = 100)")
    budgets = ", ".join(f"{t} {n}({i})" for t, (n, i) in config["budgets"].items())
    head = (f"Suite: {len(optima)} tasks x {len(methods)} methods x {config['seeds']} seeds; "
            f"evaluations (initial) per task: {budgets}.\n"
            f"Score per seed = 100 (random's median final best - final best) / (random's median final best - optimum); "
            f"optimum = the known minimum for synthetic functions and, for the scikit-learn tasks, the best value "
            f"seen by any method in any seed of this run. Random's median scores 0, the optimum 100.\n"
            f"Wall time {config.get('wall_seconds', math.nan):.0f} s with {config['jobs']} worker(s) of 1 thread on "
            f"{config.get('cpus', '?')} CPUs; load average 1/5/15 min at end: {config.get('load_end', '?')}.\n")
    summary = "\n## Summary: mean over tasks of each method's median normalised score\n\n" + \
        summary_table(results, methods, groups)
    return head + summary + choices_table(data["records"]) + "\n\n## Per task" + task_tables(results, methods) + \
        f"\n\nChart: {plots / (stem + '.png')}; raw runs: {plots / (stem + '.json')}\n"


def choices_table(records: list[dict[str, Any]]) -> str:
    """Markdown: per task and method, the trials each model proposed (summed over seeds), for the methods
    whose trials name more than one model (``auto``: ``auto:gp`` / ``auto:lla``); empty when none does."""
    counts: dict[tuple[str, str], Counter] = {}
    for record in records:
        models = {k: v for k, v in record.get("policies", {}).items() if k not in ("sobol", "queued", "outside")}
        counts.setdefault((record["task"], record["method"]), Counter()).update(models)
    mixed = sorted({m for (_, m), c in counts.items() if len(c) > 1 or any(":" in k for k in c)})
    if not mixed:
        return ""
    lines = ["\n\n## Models chosen (trials after the initial design, all seeds)\n",
             "| task | method | trials per model |", "|---|---|---|"]
    for (task, method), c in sorted(counts.items()):
        if method in mixed:
            lines.append(f"| {task} | {method} | {', '.join(f'{k} {v}' for k, v in sorted(c.items()))} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=None, help=f"comma list (default all {len(TASK_NAMES)}; --quick: {QUICK_TASKS})")
    parser.add_argument("--methods", default=DEFAULT_METHODS,
                        help="comma list of bdlopt surrogates, optuna-gp, optuna-tpe; LABEL:SURROGATE allowed")
    parser.add_argument("--options", action="append", default=[], help="LABEL=JSON surrogate_options (repeatable)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 5; --quick: 2)")
    parser.add_argument("--budget", type=int, default=None, help="evaluations per run (default per task, 40-60; --quick: 20)")
    parser.add_argument("--initial", type=int, default=None, help="initial-design size (default per task)")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 5 tasks, 20 evaluations: a few minutes")
    parser.add_argument("--jobs", type=int, default=MAX_JOBS, help=f"worker processes (1..{MAX_JOBS})")
    parser.add_argument("--plots", default="benchmarks/results", help="directory for the PNG and the JSON")
    parser.add_argument("--from-json", default=None, help="re-render the report of an earlier run's JSON")
    args = parser.parse_args(argv)
    plots = Path(args.plots)
    plots.mkdir(parents=True, exist_ok=True)
    if args.from_json:
        path = Path(args.from_json)
        print(report(json.loads(path.read_text()), plots, path.stem))
        return
    tasks = (args.tasks or (QUICK_TASKS if args.quick else ",".join(TASK_NAMES))).split(",")
    unknown = [t for t in tasks if t not in TASK_NAMES]
    if unknown:
        parser.error(f"unknown tasks {unknown} (known: {', '.join(TASK_NAMES)})")
    methods = parse_methods(args.methods)
    if RANDOM not in methods:
        print(f"note: '{RANDOM}' added to the methods: the normalised score is relative to it")
        methods = {RANDOM: RANDOM, **methods}
    options = parse_options(args.options)
    for label in options:
        if label not in methods or methods[label] in OPTUNA_METHODS:
            parser.error(f"--options for '{label}', which is not a bdlopt method of this run")
    if any(m in OPTUNA_METHODS for m in methods.values()):
        try:
            import optuna  # noqa: F401
        except ImportError:
            parser.error("optuna-* methods need Optuna: pip install -e '.[bench]'")
    seeds = args.seeds or (2 if args.quick else 5)
    budget = args.budget or (20 if args.quick else None)
    initial = args.initial or (6 if args.quick and not args.budget else None)
    n_jobs = max(1, min(args.jobs, MAX_JOBS))
    problems = {t: sized(get_task(t), budget, initial) for t in tasks}
    jobs = [{"task": t, "method": label, "surrogate": surrogate, "seed": seed, "budget": problems[t].n_total,
             "initial": problems[t].n_initial, "options": options.get(label)}
            for t in tasks for label, surrogate in methods.items() for seed in range(seeds)]
    slow = ("lla", "gp", "optuna-gp")  # the long runs first, so that the workers finish together
    jobs.sort(key=lambda j: (j["surrogate"] not in slow, slow.index(j["surrogate"]) if j["surrogate"] in slow else 0))
    print(f"{len(jobs)} runs: {len(tasks)} tasks x {len(methods)} methods x {seeds} seeds, {n_jobs} worker(s)", flush=True)
    started = time.perf_counter()
    records = run_all(jobs, n_jobs)
    config = {"tasks": tasks, "methods": list(methods), "surrogates": methods, "options": options, "seeds": seeds,
              "budgets": {t: [p.n_total, p.n_initial] for t, p in problems.items()}, "jobs": n_jobs,
              "wall_seconds": time.perf_counter() - started, "cpus": os.cpu_count(),
              "load_end": "/".join(f"{x:.1f}" for x in os.getloadavg())}
    data = {"config": config, "known_optima": {t: known_optimum(p) for t, p in problems.items()},
            "records": sorted(records, key=lambda r: (tasks.index(r["task"]), list(methods).index(r["method"]), r["seed"]))}
    stem = "suite_quick" if args.quick else "suite"
    (plots / f"{stem}.json").write_text(json.dumps(data, indent=1))
    print("\n" + report(data, plots, stem))


if __name__ == "__main__":
    main()
