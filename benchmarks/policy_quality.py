"""Optimisation quality of the policies, in process (prints markdown tables).

Runs each policy on each problem of ``benchmarks.problems`` for several seeds, one
sequential trial at a time (``count`` points per step), exactly as the study service
would drive it: encode the history, orient it for maximisation, ask for points, decode,
evaluate. Reports the best (minimum) value found per seed and the median over seeds.

    python -m benchmarks.policy_quality --problems hartmann6 branin ackley10 --seeds 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmarks.problems import PROBLEM_NAMES, Problem, get_problem
from service.compute_threads import limit_compute_threads
from service.optimizers import SuggestRequest, get_policy
from service.space import SearchSpace


def run_once(problem: Problem, policy_name: str, seed: int, count: int = 1) -> tuple[float, dict]:
    """Optimise ``problem`` with one policy and seed; return (best value, stats)."""
    space = SearchSpace(problem.parameters)
    policy = get_policy(policy_name)
    X = torch.zeros(0, space.dim, dtype=torch.float64)
    values: list[float] = []
    policies_used: dict[str, int] = {}
    start = time.perf_counter()
    warm = None  # the state the service would read from its database
    while len(values) < problem.n_total:
        k = min(count, problem.n_total - len(values))
        request = SuggestRequest(
            space=space, X=X, y=-torch.tensor(values, dtype=torch.float64), y_var=None,
            pending=torch.zeros(0, space.dim, dtype=torch.float64), count=k, seed=seed,
            n_suggested=len(values), n_initial=problem.n_initial,
            cache_key=f"{problem.name}-{policy_name}-{seed}",
        )
        suggestion = policy.suggest(request, warm)
        warm = suggestion.state
        policies_used[suggestion.policy] = policies_used.get(suggestion.policy, 0) + k
        for params in space.decode_many(suggestion.X):
            values.append(problem.objective(params))
        X = torch.cat([X, space.encode_many(space.decode_many(suggestion.X))])
    return min(values), {"seconds": time.perf_counter() - start, "policies": policies_used}


def main() -> None:
    """Parse arguments, run, print one table per problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=["hartmann6"], choices=PROBLEM_NAMES)
    parser.add_argument("--policies", nargs="+", default=["gp", "random"])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    parser.add_argument("--count", type=int, default=1, help="points per suggest call")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (0 = leave)")
    args = parser.parse_args()
    if args.threads > 0:
        limit_compute_threads(args.threads)
    for name in args.problems:
        problem = get_problem(name)
        results: dict[str, list[float]] = {p: [] for p in args.policies}
        seconds: dict[str, float] = {p: 0.0 for p in args.policies}
        used: dict[str, dict[str, int]] = {p: {} for p in args.policies}
        for seed in range(args.seeds):
            for policy_name in args.policies:
                best, stats = run_once(problem, policy_name, seed, args.count)
                results[policy_name].append(best)
                seconds[policy_name] += stats["seconds"]
                for k, v in stats["policies"].items():
                    used[policy_name][k] = used[policy_name].get(k, 0) + v
        print(f"\n### {name}: {problem.n_initial} initial + {problem.n_total - problem.n_initial} "
              f"model trials, count={args.count}, optimum {problem.optimum:g} (minimise)\n")
        print("| seed | " + " | ".join(args.policies) + " |")
        print("|---|" + "---|" * len(args.policies))
        for seed in range(args.seeds):
            print(f"| {seed} | " + " | ".join(f"{results[p][seed]:.4f}" for p in args.policies) + " |")
        print("| **median** | " + " | ".join(f"**{statistics.median(results[p]):.4f}**" for p in args.policies) + " |")
        print("| seconds/run | " + " | ".join(f"{seconds[p] / args.seeds:.1f}" for p in args.policies) + " |")
        print("\npolicies used: " + "; ".join(f"{p}: {used[p]}" for p in args.policies))


if __name__ == "__main__":
    main()
