"""In-process suggest latency of the optimizer policies (prints a markdown table).

For each history size ``n`` a study with ``n`` random Hartmann-6 observations is
created; after one warm-up call (fills the warm-start cache, as a live study would),
``--repeats`` timed ``suggest`` calls follow, each after adding the previous
suggestion's observation, so the model is refitted every time (warm-started).
Wall-clock and process CPU time are both reported: on a shared machine the wall time
includes waiting for the CPU, the CPU time (one torch thread) does not.

    python -m benchmarks.policy_latency --sizes 20 100 500 --repeats 15 --threads 1
    python -m benchmarks.policy_latency --mixed --count 4    # int + categorical columns, batch of 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from botorch.test_functions import Hartmann

from service.compute_threads import limit_compute_threads
from service.optimizers import SuggestRequest, get_policy
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


def measure(policy_name: str, n: int, dim: int, count: int, repeats: int, seed: int, mixed: bool = False) -> dict:
    """Latencies (seconds) of ``repeats`` suggest calls at history size ``n``."""
    fn = Hartmann(dim=6) if dim == 6 else None
    space = _space(dim, mixed)
    generator = torch.Generator().manual_seed(seed)
    X = space.unit_to_encoded(torch.rand(n, dim, generator=generator, dtype=torch.float64))
    scale = space.bounds()[1]  # categorical index -> [0, 1]

    def objective(Z: torch.Tensor) -> torch.Tensor:
        if fn is not None:
            return -fn(Z / scale)  # maximisation orientation
        return -((Z / scale - 0.3) ** 2).sum(-1)

    y = objective(X)
    policy = get_policy(policy_name)
    times, cpu_times, infos = [], [], []
    warm = None  # the state the service would read from its database
    for i in range(repeats + 1):
        request = SuggestRequest(
            space=space, X=X, y=y, y_var=None, pending=torch.zeros(0, dim, dtype=torch.float64),
            count=count, seed=seed, n_suggested=n + i, n_initial=10, cache_key=f"latency-{n}-{seed}",
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
    args = parser.parse_args()
    if args.threads > 0:
        limit_compute_threads(args.threads)
    print(f"policy={args.policy} d={args.dim} mixed={args.mixed} count={args.count} repeats={args.repeats} "
          f"threads={torch.get_num_threads()}\n")
    print("| n | p50 (s) | p95 (s) | CPU p50 (s) | CPU p95 (s) | fit p50 (s) | acq p50 (s) | policy |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        r = measure(args.policy, n, args.dim, args.count, args.repeats, args.seed, args.mixed)
        print(f"| {n} | {r['p50']:.3f} | {r['p95']:.3f} | {r['cpu_p50']:.3f} | {r['cpu_p95']:.3f} | {r['fit_p50']:.3f} | {r['acq_p50']:.3f} | {r['policy']} |")


if __name__ == "__main__":
    main()
