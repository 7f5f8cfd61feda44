"""Multi-objective and constrained BO quality: bdlopt GP and LLA against random and Optuna's GPSampler.

Problems (BoTorch test functions, minimisation): BraninCurrin (d = 2, 2 objectives), DTLZ2
(d = 6, 2 objectives), ConstrainedGramacy (d = 2, one objective, two outcome constraints) and
C2-DTLZ2 (d = 4, 2 objectives, one outcome constraint). bdlopt runs its policies in-process on
the same requests the service builds (``SuggestRequest`` with ``Outcomes``), carrying the
surrogate state from call to call as the service does; Optuna's GPSampler (with
constraints set on each trial with ``Trial.set_constraint``) runs in the same process, same budget, one thread.
Scores: the hypervolume of the feasible observations (fixed reference point of the problem) or the
best feasible value, per evaluation. Prints a markdown table and writes PNGs.

    python -m benchmarks.mo_quality [--seeds 5] [--quick] [--methods random,gp,lla,optuna] [--problems ...]
                                    [--options 'LABEL=JSON' ...]

A surrogate may carry a label (``gp-rbf:gp``) and ``--options LABEL=JSON`` its ``surrogate_options``
(an ablation runs beside the default in the same run; ``benchmarks.method_specs``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from botorch.test_functions.multi_objective import C2DTLZ2, DTLZ2, BraninCurrin
from botorch.test_functions.synthetic import ConstrainedGramacy
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated

from benchmarks.method_specs import parse_methods, parse_options
from service.compute_threads import limit_compute_threads
from service.optimizers import SuggestRequest, get_policy
from service.optimizers.outcomes import OutcomeBound, Outcomes
from service.space import FloatParam, SearchSpace

F64 = torch.float64


@dataclass(frozen=True)
class MOProblem:
    """A minimisation problem with ``k`` objectives and ``c`` constraints (feasible when slack >= 0)."""

    name: str
    bounds: torch.Tensor  # (2, d)
    n_objectives: int
    evaluate: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # (n, d) -> (n, k), (n, c) slacks
    n_constraints: int
    ref_point: list[float] | None  # minimisation units; None: single objective
    n_initial: int
    n_total: int


def problems(quick: bool) -> list[MOProblem]:
    scale = 0.5 if quick else 1.0
    bc, dt, c2, cg = BraninCurrin(), DTLZ2(dim=6, num_objectives=2), C2DTLZ2(dim=4, num_objectives=2), ConstrainedGramacy()
    none = lambda X: torch.zeros(X.shape[0], 0, dtype=F64)  # noqa: E731
    return [
        MOProblem("branin_currin", bc.bounds, 2, lambda X: (bc.evaluate_true(X), none(X)), 0, [18.0, 6.0], 6, int(30 * scale)),
        MOProblem("dtlz2_6d", dt.bounds, 2, lambda X: (dt.evaluate_true(X), none(X)), 0, [1.1, 1.1], 12, int(40 * scale)),
        MOProblem("constrained_gramacy", cg.bounds, 1, lambda X: (cg.evaluate_true(X).unsqueeze(-1), cg.evaluate_slack_true(X)),
                  2, None, 6, int(30 * scale)),
        MOProblem("c2_dtlz2_4d", c2.bounds, 2, lambda X: (c2.evaluate_true(X), c2.evaluate_slack_true(X)), 1, [1.1, 1.1],
                  8, int(40 * scale)),
    ]


def score(problem: MOProblem, F: torch.Tensor, S: torch.Tensor) -> float:
    """Hypervolume of the feasible points (multi-objective) or the best feasible value (NaN: none feasible)."""
    feasible = (S >= 0).all(-1) if S.shape[-1] else torch.ones(F.shape[0], dtype=torch.bool)
    if problem.ref_point is None:
        return float(F[feasible, 0].min()) if bool(feasible.any()) else float("nan")
    Y = -F[feasible]
    if Y.shape[0] == 0:
        return 0.0
    return float(Hypervolume(ref_point=-torch.tensor(problem.ref_point, dtype=F64)).compute(Y[is_non_dominated(Y)]))


def run_bdlopt(problem: MOProblem, surrogate: str, seed: int, options: dict | None = None) -> list[float]:
    """Score after every evaluation of one bdlopt run (in-process policy, state carried between calls;
    ``options``: the study's ``surrogate_options``)."""
    d = problem.bounds.shape[1]
    space = SearchSpace([FloatParam(name=f"x{i}", low=float(problem.bounds[0, i]), high=float(problem.bounds[1, i]))
                         for i in range(d)])
    policy = get_policy(surrogate)
    names = tuple([f"f{j}" for j in range(problem.n_objectives)] + [f"s{j}" for j in range(problem.n_constraints)])
    bounds = tuple(OutcomeBound(problem.n_objectives + j, ">=", 0.0) for j in range(problem.n_constraints))
    ref = None if problem.ref_point is None else -torch.tensor(problem.ref_point, dtype=F64)
    X = torch.zeros(0, d, dtype=F64)
    F = torch.zeros(0, problem.n_objectives, dtype=F64)
    S = torch.zeros(0, problem.n_constraints, dtype=F64)
    warm, scores = None, []
    while X.shape[0] < problem.n_total:
        Y = torch.cat([-F, S], dim=-1)
        outcomes = Outcomes(Y=Y, names=names, n_objectives=problem.n_objectives, constraints=bounds, ref_point=ref)
        request = SuggestRequest(space=space, X=X, y=-F[:, 0], y_var=None, pending=torch.zeros(0, d, dtype=F64),
                                 count=1, seed=seed, n_suggested=X.shape[0], n_initial=problem.n_initial,
                                 cache_key="bench", outcomes=outcomes, surrogate_options=options)
        suggestion = policy.suggest(request, warm)
        warm = suggestion.state
        natural = torch.tensor([[p[f"x{i}"] for i in range(d)] for p in space.decode_many(suggestion.X)], dtype=F64)
        f, s = problem.evaluate(natural)
        X, F, S = torch.cat([X, space.encode_many(space.decode_many(suggestion.X))]), torch.cat([F, f]), torch.cat([S, s])
        scores.append(score(problem, F, S))
    return scores


def run_optuna(problem: MOProblem, seed: int) -> list[float]:
    """Score after every evaluation of Optuna's GPSampler (ask/tell in-process)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    d = problem.bounds.shape[1]
    sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=problem.n_initial)
    study = optuna.create_study(directions=["minimize"] * problem.n_objectives, sampler=sampler)
    F = torch.zeros(0, problem.n_objectives, dtype=F64)
    S = torch.zeros(0, problem.n_constraints, dtype=F64)
    scores = []
    for _ in range(problem.n_total):
        trial = study.ask()
        x = torch.tensor([[trial.suggest_float(f"x{i}", float(problem.bounds[0, i]), float(problem.bounds[1, i]))
                           for i in range(d)]], dtype=F64)
        f, s = problem.evaluate(x)
        for j, slack in enumerate(s[0].tolist()):  # Optuna: feasible when <= 0; named "0", "1", ... in slack order
            trial.set_constraint(str(j), -slack)
        study.tell(trial, f[0].tolist() if problem.n_objectives > 1 else float(f[0, 0]))
        F, S = torch.cat([F, f]), torch.cat([S, s])
        scores.append(score(problem, F, S))
    return scores


def plot(problem: MOProblem, curves: dict[str, list[list[float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, runs in curves.items():
        steps = range(1, len(runs[0]) + 1)
        med = [statistics.median(r[i] for r in runs) for i in range(len(runs[0]))]
        ax.plot(steps, med, label=method)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("hypervolume (higher is better)" if problem.ref_point else "best feasible value (lower is better)")
    ax.set_title(f"{problem.name}: median over {len(next(iter(curves.values())))} seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="half budgets, 2 seeds")
    parser.add_argument("--methods", default="random,gp,lla,optuna")
    parser.add_argument("--problems", default="")
    parser.add_argument("--plots", default="docs/images")
    parser.add_argument("--options", action="append", default=[], help="LABEL=JSON surrogate_options (repeatable)")
    args = parser.parse_args(argv)
    limit_compute_threads(1)
    seeds = range(2 if args.quick else args.seeds)
    kinds = parse_methods(args.methods)
    options = parse_options(args.options)
    for label in options:
        if kinds.get(label, "optuna") == "optuna":
            parser.error(f"--options for '{label}', which is not a bdlopt surrogate of this run")
    methods = list(kinds)
    wanted = set(args.problems.split(",")) if args.problems else None
    print("| problem | method | median final score | seeds | seconds per run |")
    print("|---|---|---|---|---|")
    for problem in problems(args.quick):
        if wanted and problem.name not in wanted:
            continue
        curves: dict[str, list[list[float]]] = {}
        seconds: dict[str, list[float]] = {}
        for seed in seeds:  # interleaved: every method on a seed before the next seed
            for method in methods:
                start = time.perf_counter()
                run = (run_optuna(problem, seed) if kinds[method] == "optuna"
                       else run_bdlopt(problem, kinds[method], seed, options.get(method)))
                seconds.setdefault(method, []).append(time.perf_counter() - start)
                curves.setdefault(method, []).append(run)
        for method in methods:
            finals = [r[-1] for r in curves[method]]
            print(f"| {problem.name} | {'optuna GPSampler' if kinds[method] == 'optuna' else 'bdlopt ' + method} | "
                  f"{statistics.median(finals):.6g} | {', '.join(f'{v:.6g}' for v in finals)} | "
                  f"{statistics.median(seconds[method]):.1f} |", flush=True)
        Path(args.plots).mkdir(parents=True, exist_ok=True)
        plot(problem, curves, Path(args.plots) / f"mo_quality_{problem.name}.png")


if __name__ == "__main__":
    main()
