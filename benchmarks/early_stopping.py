"""Early stopping: epochs spent and best final error per stopping policy, against Optuna's pruners.

Tasks (bundled scikit-learn data, 70/30 stratified split, validation error = 1 - accuracy):

- ``sgd-digits``: ``SGDClassifier`` (log loss, elastic net, constant step) on digits; parameters
  ``alpha``, ``eta0``, ``l1_ratio``.
- ``mlp-breast_cancer``: ``MLPClassifier`` (adam) on breast_cancer (standardised); parameters
  ``hidden``, ``learning_rate_init``, ``alpha``, ``batch_size``.

Each trial trains with ``partial_fit`` for up to ``--epochs`` epochs and reports the validation
error after every epoch. Every method of one seed evaluates the same sequence of ``--trials``
configurations (the bdlopt study's Sobol points, ``surrogate="random"``, enqueued as they are
into Optuna's studies), so the methods differ only in how they stop trials. A configuration's
curve depends only on (task, seed, configuration), so it is trained once and replayed to every
method, which is charged the epochs it asked for.

bdlopt runs through the real stack in process (the SDK's ``optimize`` with ``fn(params, trial)``
over FastAPI's TestClient, SQLite). Optuna (``pip install -e .[bench]``) runs MedianPruner
(``n_startup_trials=5, n_warmup_steps=5``, the same defaults as bdlopt's ``median``) and
HyperbandPruner (``min_resource=1, max_resource=epochs, reduction_factor=3``).

    nice -n 10 python -m benchmarks.early_stopping            # 5 seeds, 30 trials x 30 epochs, model@0.05/0.2
    nice -n 10 python -m benchmarks.early_stopping --trials 40 --epochs 50 --thresholds 0.05 0.3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

TaskFactory = Callable[[dict[str, Any], int], Any]


@dataclass(frozen=True)
class Task:
    """An iterative learner on a bundled data set and its search space."""

    name: str
    parameters: list[dict[str, Any]]
    make: TaskFactory
    load: Callable[[], Any]


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, stratify=y, random_state=0)


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_val), y_train, y_val


def _sgd(params: dict[str, Any], seed: int):
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss="log_loss", penalty="elasticnet", learning_rate="constant", alpha=params["alpha"],
                         eta0=params["eta0"], l1_ratio=params["l1_ratio"], random_state=seed)


def _mlp(params: dict[str, Any], seed: int):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(int(params["hidden"]),), learning_rate_init=params["learning_rate_init"],
                         alpha=params["alpha"], batch_size=int(params["batch_size"]), random_state=seed)


TASKS = {
    "sgd-digits": Task("sgd-digits", [
        {"name": "alpha", "type": "float", "low": 1e-6, "high": 1e-1, "log": True},
        {"name": "eta0", "type": "float", "low": 1e-4, "high": 1.0, "log": True},
        {"name": "l1_ratio", "type": "float", "low": 0.0, "high": 1.0},
    ], _sgd, _digits),
    "mlp-breast_cancer": Task("mlp-breast_cancer", [
        {"name": "hidden", "type": "int", "low": 4, "high": 128, "log": True},
        {"name": "learning_rate_init", "type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        {"name": "alpha", "type": "float", "low": 1e-6, "high": 1e-1, "log": True},
        {"name": "batch_size", "type": "int", "low": 16, "high": 128},
    ], _mlp, _breast_cancer),
}


class CurveBank:
    """Validation-error curves, trained once per (task, seed, configuration) and replayed."""

    def __init__(self, task: Task, epochs: int) -> None:
        self.task, self.epochs = task, epochs
        self.data = task.load()
        self.curves: dict[tuple[int, str], list[float]] = {}
        self.train_seconds = 0.0

    def curve(self, params: dict[str, Any], seed: int) -> list[float]:
        key = (seed, json.dumps(params, sort_keys=True))
        if key not in self.curves:
            started = time.perf_counter()
            X_train, X_val, y_train, y_val = self.data
            model = self.task.make(params, seed)
            classes = np.unique(y_train)
            errors = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for _ in range(self.epochs):
                    model.partial_fit(X_train, y_train, classes=classes)
                    errors.append(float(1.0 - model.score(X_val, y_val)))
            self.curves[key] = errors
            self.train_seconds += time.perf_counter() - started
        return self.curves[key]


@dataclass
class Outcome:
    """One method on one task and seed."""

    epochs: int
    best_error: float
    stopped: int


BDLOPT_POLICIES = {
    "none": {"policy": "none"},
    "median": {"policy": "median"},
    "successive_halving": {"policy": "successive_halving", "min_steps": 0},
    "model": {"policy": "model"},
}


def _policy(method: str) -> dict[str, Any]:
    """The study's early_stopping settings of a bdlopt method name ('model@0.1': model, threshold 0.1)."""
    if method.startswith("model@"):
        return {"policy": "model", "threshold": float(method.split("@", 1)[1])}
    return dict(BDLOPT_POLICIES[method])


def run_bdlopt(client, bank: CurveBank, seed: int, n_trials: int,
               settings: dict[str, Any]) -> tuple[Outcome, list[dict[str, Any]]]:
    """One bdlopt study through the SDK; the outcome and the configurations in order."""
    label = settings["policy"] + (f"@{settings['threshold']:g}" if "threshold" in settings else "")
    study = client.create_study(f"{bank.task.name}-{label}-{seed}", bank.task.parameters,
                                objective="error", surrogate="random", seed=seed, early_stopping=settings)
    spent = [0]

    def train(params, trial):
        curve = bank.curve(params, seed)
        for epoch, error in enumerate(curve):
            spent[0] += 1
            trial.report(epoch, error)  # raises TrialStopped when the policy stops the trial
        return curve[-1]

    try:
        client.optimize(train, study, n_trials=n_trials, progress=False)
    except Exception as error:  # noqa: BLE001 - a study where no trial completed has no best
        print(f"    {settings['policy']} seed {seed}: {error}")
    trials = client.trials(study)
    completed = [t.values["error"] for t in trials if t.state == "completed"]
    stopped = sum(t.state == "early_stopped" for t in trials)
    configs = [dict(t.params) for t in sorted(trials, key=lambda t: t.number)]
    return Outcome(spent[0], min(completed) if completed else float("nan"), stopped), configs


def run_optuna(bank: CurveBank, seed: int, configs: list[dict[str, Any]], pruner_name: str) -> Outcome:
    """Optuna on the same configurations (enqueued in order) with one of its pruners."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if pruner_name == "optuna-median":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
    else:
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=bank.epochs, reduction_factor=3)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=seed), pruner=pruner)
    for params in configs:
        study.enqueue_trial(params)
    spent = [0]

    def objective(trial):
        params = {p["name"]: (trial.suggest_int(p["name"], p["low"], p["high"], log=p.get("log", False))
                              if p["type"] == "int" else
                              trial.suggest_float(p["name"], p["low"], p["high"], log=p.get("log", False)))
                  for p in bank.task.parameters}
        curve = bank.curve(params, seed)
        for epoch, error in enumerate(curve):
            spent[0] += 1
            trial.report(error, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return curve[-1]

    study.optimize(objective, n_trials=len(configs))
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return Outcome(spent[0], study.best_value, pruned)


METHODS = ["none", "median", "successive_halving", "model", "optuna-median", "optuna-hyperband"]


def summarise(results: dict[str, dict[str, list[Outcome]]], seeds: int) -> list[str]:
    """The markdown table: per task and method, mean epochs and best error over seeds, and ratios."""
    lines = ["| task | method | mean epochs | epochs / none | mean best error | error / none | stopped trials | "
             "per-seed best error |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for task, by_method in results.items():
        base_epochs = statistics.mean(o.epochs for o in by_method["none"])
        base_error = statistics.mean(o.best_error for o in by_method["none"])
        for method, outcomes in by_method.items():
            epochs = statistics.mean(o.epochs for o in outcomes)
            error = statistics.mean(o.best_error for o in outcomes)
            per_seed = ", ".join(f"{o.best_error:.4f}" for o in outcomes)
            lines.append(f"| {task} | {method} | {epochs:.0f} | {epochs / base_epochs:.2f} | {error:.4f} | "
                         f"{error / base_error:.3f} | {statistics.mean(o.stopped for o in outcomes):.1f} | {per_seed} |")
    return lines


def acceptance(results: dict[str, dict[str, list[Outcome]]]) -> list[str]:
    """The issue's criteria, per task: model within 2% of none's error with <= half its epochs;
    fewer epochs than optuna-median at equal or better error."""
    lines = []
    for task, by_method in results.items():
        mean = {m: (statistics.mean(o.epochs for o in v), statistics.mean(o.best_error for o in v))
                for m, v in by_method.items()}
        if "model" not in mean:
            continue
        (e_model, err_model), (e_none, err_none) = mean["model"], mean["none"]
        first = err_model <= 1.02 * err_none and e_model <= 0.5 * e_none
        lines.append(f"- {task}: model error {err_model:.4f} vs none {err_none:.4f} (x{err_model / err_none:.3f}), "
                     f"epochs x{e_model / e_none:.2f}: {'holds' if first else 'does not hold'}")
        if "optuna-median" in mean:
            e_opt, err_opt = mean["optuna-median"]
            second = e_model < e_opt and err_model <= err_opt
            lines.append(f"- {task}: model {e_model:.0f} epochs / error {err_model:.4f} vs optuna-median "
                         f"{e_opt:.0f} / {err_opt:.4f}: {'holds' if second else 'does not hold'}")
    return lines


def plot(results: dict[str, dict[str, list[Outcome]]], path: Path) -> None:
    """Mean epochs (x) against mean best error (y), one panel per task, one point per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4.2), squeeze=False)
    for ax, (task, by_method) in zip(axes[0], results.items()):
        for method, outcomes in by_method.items():
            x = statistics.mean(o.epochs for o in outcomes)
            y = statistics.mean(o.best_error for o in outcomes)
            ax.scatter([x], [y], s=50, marker="s" if method.startswith("optuna") else "o", label=method)
        ax.set_title(task)
        ax.set_xlabel("total epochs (mean over seeds)")
        ax.set_ylabel("best final validation error (mean)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    """Parse arguments, run every method on every task and seed, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    parser.add_argument("--trials", type=int, default=30, help="trials per study")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per full trial")
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.05, 0.2],
                        help="also run the model policy at these thresholds (rows 'model@T'; none: pass the flag "
                             "alone); 'model' is the default threshold")
    parser.add_argument("--plot", default="docs/images/early_stopping.png")
    args = parser.parse_args()

    import logging

    logging.getLogger("service").setLevel(logging.WARNING)
    from fastapi.testclient import TestClient

    from service.api.app import create_app
    from service.config import Settings
    from service.db import Database
    from service.db.migrate import upgrade
    from service.sdk import Client

    bdlopt_first = [m for m in args.methods if m in BDLOPT_POLICIES] + [f"model@{t:g}" for t in args.thresholds]
    methods = bdlopt_first + [m for m in args.methods if m not in BDLOPT_POLICIES]  # Optuna replays bdlopt's points
    started = time.perf_counter()
    results: dict[str, dict[str, list[Outcome]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{Path(tmp) / 'early_stopping.db'}")
        upgrade(database)
        settings = Settings(data_dir=Path(tmp), migrate_on_startup=False, rate_limit_suggest_per_minute=0)
        with TestClient(create_app(settings, database=database)) as http:
            client = Client(http_client=http)
            for task_name in args.tasks:
                bank = CurveBank(TASKS[task_name], args.epochs)
                by_method: dict[str, list[Outcome]] = {m: [] for m in methods}
                for seed in range(args.seeds):
                    configs: list[dict[str, Any]] = []
                    for method in methods:
                        if method in BDLOPT_POLICIES or method.startswith("model@"):
                            outcome, configs = run_bdlopt(client, bank, seed, args.trials, _policy(method))
                        else:
                            outcome = run_optuna(bank, seed, configs, method)
                        by_method[method].append(outcome)
                        print(f"  {task_name} seed {seed} {method}: epochs {outcome.epochs}, best error "
                              f"{outcome.best_error:.4f}, stopped {outcome.stopped}", flush=True)
                results[task_name] = by_method
                print(f"  {task_name}: {len(bank.curves)} curves trained in {bank.train_seconds:.1f} s", flush=True)
    load = os.getloadavg()
    print(f"\n{args.trials} trials x up to {args.epochs} epochs, seeds 0..{args.seeds - 1}, same configurations for "
          f"every method of a seed; {time.perf_counter() - started:.0f} s, load average {load[0]:.1f}\n")
    print("\n".join(summarise(results, args.seeds)))
    print("\nAcceptance (issue 16):")
    print("\n".join(acceptance(results)))
    plot(results, Path(args.plot))
    print(f"\nPlot: {args.plot}")


if __name__ == "__main__":
    main()
