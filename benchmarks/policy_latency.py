"""In-process suggest latency of the optimizer policies (prints a markdown table).

For each history size ``n`` a study with ``n`` random Hartmann-6 observations is
created; after one warm-up call (fills the warm-start cache, as a live study would),
``--repeats`` timed ``suggest`` calls follow, each after adding the previous
suggestion's observation, so the model is refitted every time (warm-started).
Wall-clock and process CPU time are both reported: on a shared machine the wall time
includes waiting for the CPU, the CPU time (one torch thread) does not.

    python -m benchmarks.policy_latency --sizes 20 100 500 --repeats 15 --threads 1
    python -m benchmarks.policy_latency --mixed --count 4    # int + categorical columns, batch of 4
    python -m benchmarks.policy_latency --policy lla --outcomes 3 --options '{"outcome_networks": "joint"}'

``--outcomes k`` adds ``k - 1`` constrained metrics (smooth functions of the point with a ``>= 0``
bound), so the policy models ``k`` outcomes and maximises constrained qLogNEI, as for a study
with outcome constraints; ``--options`` is the study's ``surrogate_options`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from botorch.test_functions import Hartmann

from service.compute_threads import limit_compute_threads
from service.optimizers import SuggestRequest, get_policy
from service.optimizers.outcomes import OutcomeBound, Outcomes
from service.space import CategoricalParam, FloatParam, IntParam, SearchSpace


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def _space(dim: int, mixed: bool) -> SearchSpace:
    """``dim`` unit floats, or (``mixed``) the last two replaced by an int 1..10 and a 4-way categorical."""
    params: list = [FloatParam(name=f"x{i}", low=0.0, high=1.0) for i in range(dim)]
    if mixed:
        params[-2] = IntParam(name="n", low=1, high=10)
        params[-1] = CategoricalParam(name="c", choices=["a", "b", "c", "d"])
    return SearchSpace(params)


def constraint_metrics(U: torch.Tensor, k: int) -> torch.Tensor:
    """``(N, k)`` constrained metrics of unit points ``U`` ``(N, D)``, each feasible (``>= 0``) on part of the box."""
    spread = ((U - 0.5) ** 2).mean(-1, keepdim=True)
    tilt = torch.arange(1, k + 1, dtype=U.dtype) * 0.05 * (U[:, :1] - 0.5)
    return 0.1 - spread + tilt


def measure(policy_name: str, n: int, dim: int, count: int, repeats: int, seed: int, mixed: bool = False,
            outcomes: int = 1, options: dict | None = None) -> dict:
    """Latencies (seconds) of ``repeats`` suggest calls at history size ``n`` with ``outcomes`` modelled
    outcomes (the objective and ``outcomes - 1`` constrained metrics) and ``options`` as ``surrogate_options``."""
    fn = Hartmann(dim=6) if dim == 6 else None
    space = _space(dim, mixed)
    generator = torch.Generator().manual_seed(seed)
    X = space.unit_to_encoded(torch.rand(n, dim, generator=generator, dtype=torch.float64))
    scale = space.bounds()[1]  # categorical index -> [0, 1]

    def objective(Z: torch.Tensor) -> torch.Tensor:
        if fn is not None:
            return -fn(Z / scale)  # maximisation orientation
        return -((Z / scale - 0.3) ** 2).sum(-1)

    def with_constraints(Z: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return torch.cat([value.unsqueeze(-1), constraint_metrics(Z / scale, outcomes - 1)], dim=-1)

    y = objective(X)
    Y = with_constraints(X, y)
    names = tuple(["objective"] + [f"metric{j}" for j in range(1, outcomes)])
    bounds = tuple(OutcomeBound(j, ">=", 0.0) for j in range(1, outcomes))
    policy = get_policy(policy_name)
    times, cpu_times, infos = [], [], []
    warm = None  # the state the service would read from its database
    for i in range(repeats + 1):
        request = SuggestRequest(
            space=space, X=X, y=y, y_var=None, pending=torch.zeros(0, dim, dtype=torch.float64),
            count=count, seed=seed, n_suggested=n + i, n_initial=10, cache_key=f"latency-{n}-{seed}",
            outcomes=None if outcomes == 1 else Outcomes(Y=Y, names=names, n_objectives=1, constraints=bounds),
            surrogate_options=options,
        )
        start, cpu_start = time.perf_counter(), time.process_time()
        suggestion = policy.suggest(request, warm)
        warm = suggestion.state
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if i > 0:
            times.append(elapsed)
            cpu_times.append(cpu)
            infos.append(suggestion.info)
        X = torch.cat([X, suggestion.X])
        y = torch.cat([y, objective(suggestion.X)])
        Y = with_constraints(X, y)
    return {
        "p50": statistics.median(times),
        "p95": _percentile(times, 0.95),
        "cpu_p50": statistics.median(cpu_times),
        "cpu_p95": _percentile(cpu_times, 0.95),
        "fit_p50": statistics.median(i.get("fit_seconds", 0.0) for i in infos),
        "acq_p50": statistics.median(i.get("acq_seconds", 0.0) for i in infos),
        "policy": suggestion.policy,
    }


def main() -> None:
    """Parse arguments, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="gp")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 500])
    parser.add_argument("--dim", type=int, default=6)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (0 = leave)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixed", action="store_true", help="last two columns: int 1..10 and 4-way categorical")
    parser.add_argument("--outcomes", type=int, default=1, help="modelled outcomes: the objective and k - 1 constrained metrics")
    parser.add_argument("--options", default="", help="surrogate_options as JSON")
    args = parser.parse_args()
    if args.threads > 0:
        limit_compute_threads(args.threads)
    options = json.loads(args.options) if args.options else None
    print(f"policy={args.policy} d={args.dim} mixed={args.mixed} count={args.count} repeats={args.repeats} "
          f"outcomes={args.outcomes} options={options} threads={torch.get_num_threads()}\n")
    print("| n | p50 (s) | p95 (s) | CPU p50 (s) | CPU p95 (s) | fit p50 (s) | acq p50 (s) | policy |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        r = measure(args.policy, n, args.dim, args.count, args.repeats, args.seed, args.mixed, args.outcomes, options)
        print(f"| {n} | {r['p50']:.3f} | {r['p95']:.3f} | {r['cpu_p50']:.3f} | {r['cpu_p95']:.3f} | {r['fit_p50']:.3f} | {r['acq_p50']:.3f} | {r['policy']} |")


if __name__ == "__main__":
    main()
