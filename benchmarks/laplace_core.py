"""Speed and memory of ``bdl_core.laplace`` on digits (prints a markdown table).

A 64-256-10 tanh MLP is trained briefly (full-batch Adam, fixed seed) on all 1797
standardised digits; then, per Laplace structure: ``fit`` time, post-hoc
marginal-likelihood tuning time (100 Adam steps, scalar prior by default) and the GLM
probit predictive for all 1797 points with its peak memory. Every timing is the median
of ``--repeats`` runs after one untimed warm-up run (``torch.func`` traces on first
use). Wall-clock and process CPU time are both printed: on a shared machine the wall
time includes waiting for a core, the CPU time does not.

Memory: on CUDA, ``torch.cuda.max_memory_allocated`` above the allocation before the
call. On CPU (torch's allocator is invisible to ``tracemalloc``) the peak resident set
size of the process during the call minus the resident size before it (Linux
``VmHWM`` reset through ``/proc/self/clear_refs``); freed memory the allocator keeps
can hide part of the peak, so it is a lower bound, shown next to the predictive's
analytic working set (Jacobian chunk + outputs).

The reference column is laplace-torch: measured in the same run with ``--reference``
when it is installed (see ``benchmarks.laplace_reference``), otherwise the stored 0.3
numbers from the 2-core development machine (kron fit 0.09 s, tuning 0.04 s, GLM probit
predictive 7.5 s kron / 3.3 s diag); the goal is a predictive >= 5x faster with bounded
(chunked) memory, fit and tuning no slower. kron, diag, full and function predictives
over plain linear layers, and the diag and full GGNs, use rank-one Jacobian factors (no
(N, C, P) Jacobian of the predicted points); scalar-prior tuning of
full / function posteriors uses eigenvalues computed once (the first tuning call pays
one ``eigvalsh``; the timed calls after the warm-up do not).
"full" over all 19,210 parameters would need a 19k x 19k matrix, so it runs on the
last layer; "function" needs an (N*C)^2 kernel and runs on the first ``--function-n``
points (fit, tuning and predictive on those points only). Rows are printed as soon as
they are measured.

    python -m benchmarks.laplace_core
    python -m benchmarks.laplace_core --reference      # also time laplace-torch, if installed
    python -m benchmarks.laplace_core --device cuda --dtype float32 --repeats 5
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from bdl_core.calibration import accuracy
from bdl_core.laplace import Laplace

REFERENCE = {  # laplace-torch 0.3, 2-core machine, seconds
    ("kron", "all"): {"fit": 0.09, "tune": 0.04, "predict": 7.5},
    ("diag", "all"): {"predict": 3.3},
}


def load_digits_tensors(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1797 digits, standardised: X (1797, 64), y (1797,)."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    data = load_digits()
    X = StandardScaler().fit_transform(data.data)
    return (torch.tensor(X, dtype=dtype, device=device),
            torch.tensor(data.target, device=device))


def train_map(X: torch.Tensor, y: torch.Tensor, steps: int, seed: int) -> nn.Module:
    """64-256-10 tanh MLP, ``steps`` full-batch Adam steps (lr 1e-2, weight decay 1e-4)."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 256), nn.Tanh(), nn.Linear(256, 10)).to(X.device, X.dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        optimizer.step()
    return model.eval()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeats`` calls after one warm-up call, and the last result."""
    result = fn()
    _sync(device)
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        _sync(device)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), result


def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            match = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)
        return int(match.group(1)) if match else None
    except OSError:
        return None


def peak_memory_mib(fn: Callable[[], object], device: torch.device) -> float | None:
    """Peak memory (MiB) that ``fn()`` adds on ``device`` (see the module docstring), None if unknown."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset VmHWM to the current RSS
    except OSError:
        return None
    before = _rss_kib("VmRSS")
    fn()
    peak = _rss_kib("VmHWM")
    return None if before is None or peak is None else max(0, peak - before) / 1024


def measure(structure: str, subset: str, model: nn.Module, X: torch.Tensor, y: torch.Tensor,
            X_pred: torch.Tensor, prior: str, repeats: int) -> dict:
    """Fit / tuning / predictive timings and predictive memory of one structure."""
    device = X.device

    def fit() -> Laplace:
        return Laplace(model, "classification", structure=structure, subset=subset,
                       prior=prior).fit(X, y)

    fit_wall, fit_cpu, la = timed(fit, device, repeats)

    def tune() -> list[float]:
        la.prior_precision = 1.0
        return la.optimize_hyperparameters(n_steps=100, lr=0.1)

    tune_wall, tune_cpu, trace = timed(tune, device, repeats)

    def predict() -> torch.Tensor:
        with torch.no_grad():
            return la.predict(X_pred)

    pred_wall, pred_cpu, probs = timed(predict, device, repeats)
    chunk = max(1, la.jacobian_budget // (la.n_outputs * la.n_params))
    itemsize = torch.finfo(X.dtype).bits // 8
    working_set = (chunk * la.n_outputs * la.n_params * 2 + X_pred.shape[0] * la.n_outputs ** 2) * itemsize
    return {
        "structure": structure, "subset": subset, "P": la.n_params, "N": X.shape[0],
        "fit": (fit_wall, fit_cpu), "tune": (tune_wall, tune_cpu), "predict": (pred_wall, pred_cpu),
        "memory_mib": peak_memory_mib(predict, device), "working_set_mib": working_set / 2**20,
        "lml": trace[-1], "prior_precision": float(la.prior_precision.reshape(-1)[0]),
        "accuracy": accuracy(probs, y[: probs.shape[0]].to(probs.device))
        if X_pred.shape[0] == X.shape[0] else float("nan"),
    }


def _cell(value: float | None, fmt: str = "{:.3g}") -> str:
    return "n/a" if value is None else fmt.format(value)


TABLE_HEAD = [
    "| structure | subset | P | N fit | fit s (cpu) | tune 100 s (cpu) | predict s (cpu) "
    "| predict peak MiB (chunk set) | ref fit / tune / predict s | speed-up fit / tune / predict |",
    "|---|---|---|---|---|---|---|---|---|---|",
]


def render_row(r: dict, measured_reference: dict | None = None) -> str:
    """One markdown table row; speed-up = reference wall time / measured wall time.

    ``measured_reference`` maps (structure, subset) to laplace-torch times measured in this
    run (``--reference``); rows without one use the stored ``REFERENCE``.
    """
    key = (r["structure"], r["subset"])
    ref = (measured_reference or {}).get(key) or REFERENCE.get(key, {})
    refs = " / ".join(_cell(ref.get(k)) for k in ("fit", "tune", "predict"))
    ratios = " / ".join(
        _cell(ref[k] / r[k][0], "{:.2f}x") if k in ref and r[k][0] > 0 else "-"
        for k in ("fit", "tune", "predict"))
    return (f"| {r['structure']} | {r['subset']} | {r['P']} | {r['N']} "
            f"| {r['fit'][0]:.3f} ({r['fit'][1]:.3f}) | {r['tune'][0]:.3f} ({r['tune'][1]:.3f}) "
            f"| {r['predict'][0]:.3f} ({r['predict'][1]:.3f}) "
            f"| {_cell(r['memory_mib'], '{:.0f}')} ({r['working_set_mib']:.0f}) | {refs} | {ratios} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--map-steps", type=int, default=200)
    parser.add_argument("--prior", default="scalar", choices=["scalar", "layerwise"])
    parser.add_argument("--function-n", type=int, default=200, help="points for the 'function' structure")
    parser.add_argument("--structures", nargs="+", default=["kron", "diag", "full", "function"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference", action="store_true",
                        help="also time laplace-torch (if installed) in this run, for kron and diag")
    args = parser.parse_args(argv)

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"CUDA is not available on this machine: skipping the benchmark for --device {args.device}.")
        return
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    X, y = load_digits_tensors(dtype, device)
    model = train_map(X, y, args.map_steps, args.seed)
    with torch.no_grad():
        map_accuracy = accuracy(model(X), y)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"## bdl_core.laplace on digits (64-256-10 tanh MLP, {args.dtype}, {name}, "
          f"prior={args.prior}, MAP train accuracy {map_accuracy:.3f}, median of {args.repeats})")
    print()
    measured_reference: dict = {}
    if args.reference:
        from benchmarks import laplace_reference

        if laplace_reference.available():
            for structure in ("kron", "diag"):
                if structure in args.structures:
                    measured_reference[(structure, "all")] = laplace_reference.measure_reference(
                        structure, model, X, y, timed, args.repeats)
        else:
            print("laplace-torch is not importable here: speed-ups use the stored reference numbers.")
    print("\n".join(TABLE_HEAD), flush=True)
    rows = []
    for structure in args.structures:
        subset = "last_layer" if structure == "full" else "all"
        n_fit = args.function_n if structure == "function" else X.shape[0]
        X_pred = X[:n_fit] if structure == "function" else X
        rows.append(measure(structure, subset, model, X[:n_fit], y[:n_fit], X_pred, args.prior, args.repeats))
        print(render_row(rows[-1], measured_reference), flush=True)
    print()
    for r in rows:
        print(f"- {r['structure']}/{r['subset']}: tuned log marglik {r['lml']:.1f}, "
              f"prior precision {r['prior_precision']:.3g}")
    if any(r["structure"] == "function" for r in rows):
        print(f"- function: fit, tuning and predictive on the first {args.function_n} points only "
              "(the (N*C)^2 kernel of all 1797 points is 17970^2).")
    print("- full: last layer only (all 19,210 parameters would need a 19210^2 matrix).")
    for (structure, subset), ref in measured_reference.items():
        print(f"- laplace-torch {structure}/{subset}, measured in this run: fit {ref['fit']:.3f} s, "
              f"tune {ref['tune']:.3f} s, predict {ref['predict']:.3f} s, tuned log marglik {ref['lml']:.1f}")
    source = "measured in this run" if measured_reference else "stored 0.3 numbers"
    print(f"- speed-up = laplace-torch reference wall time ({source}) / measured wall time (>1: faster).")


if __name__ == "__main__":
    main()
