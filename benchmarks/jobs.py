"""End-to-end time of background jobs, and K-FAC ``reduce`` versus ``expand`` fit time (markdown tables).

1. A ``laplace`` job (sklearn:digits, 64-256-10 MLP, K-FAC posterior) and a ``marglik`` job (three
   candidate MLPs) submitted through the HTTP API (in-process app, local back end, SDK ``wait``):
   wall time from submit to succeeded, the job's own timings and held-out metrics.
2. For the job's small CNN on digits (conv 16-32, hidden 64; weight sharing in the convolutions), the
   time of ``Laplace(..., structure="kron").fit`` with ``kfac="reduce"`` and ``kfac="expand"``
   (Immer et al. 2022 find reduce generally faster) and the log marginal likelihood of each.

    python -m benchmarks.jobs [--device cpu|cuda] [--epochs 100] [--marglik-epochs 30] [--repeats 3]
        [--skip-jobs] [--skip-kfac]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_jobs(device: str, epochs: int, marglik_epochs: int) -> list[dict]:
    """Submit the laplace and marglik jobs through the API and wait for them; one row each."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from service.api.app import create_app
    from service.config import Settings
    from service.sdk import Client

    requests = [
        ("laplace", {"model": {"kind": "mlp", "hidden": [256]},
                     "config": {"epochs": epochs, "structure": "kron", "lr": 1e-3}}),
        ("marglik", {"config": {"epochs": marglik_epochs,
                                "candidates": [{"model": {"kind": "mlp", "hidden": [50]}},
                                               {"model": {"kind": "mlp", "hidden": [256]}},
                                               {"model": {"kind": "mlp", "hidden": [256, 256]}}]}}),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory), local_workers=1)
        with TestClient(create_app(settings)) as http:
            client = Client(http_client=http)
            for kind, body in requests:
                started = time.perf_counter()
                try:
                    job = client.submit_job(kind, "sklearn:digits", task="classification", device=device, **body)
                except Exception as error:  # noqa: BLE001 - e.g. a kind whose engine is missing
                    rows.append({"kind": kind, "state": f"not submitted: {error}"})
                    continue
                job = client.wait(job, progress=False, poll_interval=0.1)
                wall = time.perf_counter() - started
                row = {"kind": kind, "state": job.state, "wall_s": wall, "error": job.error}
                if job.state == "succeeded":
                    row["result"] = client.result(job).result
                rows.append(row)
    return rows


def kfac_fit_times(device: torch.device, repeats: int, n_train: int | None) -> list[dict]:
    """Median fit time of the CNN's K-FAC Laplace with each flavour (float32, digits training split)."""
    from bdl_core.laplace import Laplace

    from service.datasets.builtin import load_builtin
    from service.jobs.data import make_splits
    from service.jobs.model_specs import CNNSpec
    from service.jobs.networks import build_network

    splits = make_splits(load_builtin("sklearn:digits"), "target", "classification", test_fraction=0.2, seed=0,
                         dtype=torch.float32, device=device)
    x, y = splits.x_train, splits.y_train
    if n_train is not None:
        x, y = x[:n_train], y[:n_train]
    network = build_network(CNNSpec(), splits.n_features, splits.n_outputs, device=device, seed=0)
    rows = []
    for kfac in ("expand", "reduce"):
        times = []
        for repeat in range(repeats + 1):  # the first fit warms up kernels and caches
            la = Laplace(network, likelihood="classification", structure="kron", kfac=kfac, prior="layerwise")
            _sync(device)
            started = time.perf_counter()
            la.fit(x, y)
            _sync(device)
            if repeat:
                times.append(time.perf_counter() - started)
        with torch.no_grad():
            lml = float(la.log_marginal_likelihood())
        rows.append({"kfac": kfac, "median_s": statistics.median(times), "min_s": min(times), "lml": lml,
                     "n": int(x.shape[0]), "params": la.n_params})
    return rows


def _job_tables(rows: list[dict], device: str) -> str:
    lines = [f"### Jobs end to end (device `{device}`)", "",
             "| job | state | wall (s) | MAP training (s) | Laplace fit (s) | MAP acc / NLL | Laplace acc / NLL | "
             "log marglik |", "|---|---|---:|---:|---:|---|---|---:|"]
    for row in rows:
        result = row.get("result")
        if row["kind"] == "laplace" and result:
            t = result["timings"]
            lines.append(f"| laplace (MLP 64-256-10, kron) | {row['state']} | {row['wall_s']:.1f} | "
                         f"{t['map_training_s']:.1f} | {t['laplace_fit_s']:.2f} | "
                         f"{result['map']['accuracy']:.3f} / {result['map']['nll']:.3f} | "
                         f"{result['laplace']['accuracy']:.3f} / {result['laplace']['nll']:.3f} | "
                         f"{result['log_marginal_likelihood']:.1f} |")
        elif row["kind"] == "laplace":
            lines.append(f"| laplace | {row['state']} | {row.get('wall_s', float('nan')):.1f} | | | | | |")
    marglik = [row for row in rows if row["kind"] == "marglik"]
    for row in marglik:
        result = row.get("result")
        lines += ["", f"### marglik job, 3 candidates (device `{device}`): {row['state']}"
                  + (f", wall {row['wall_s']:.1f} s" if "wall_s" in row else "")
                  + (f" ({row['error']})" if row.get("error") else ""), ""]
        if result:
            lines += ["| candidate | log marglik | train (s) | MAP acc | Laplace acc / NLL / ECE | chosen |",
                      "|---|---:|---:|---:|---|---|"]
            for report in result["candidates"]:
                la = report["laplace"]
                lines.append(f"| {report['name']} | {report['log_marginal_likelihood']:.1f} | "
                             f"{report['train_seconds']:.1f} | {report['map']['accuracy']:.3f} | "
                             f"{la['accuracy']:.3f} / {la['nll']:.3f} / {la['ece']:.3f} | "
                             f"{'yes' if report['name'] == result['chosen'] else ''} |")
    return "\n".join(lines)


def _kfac_table(rows: list[dict], device: str) -> str:
    lines = [f"### CNN K-FAC fit: reduce vs expand (device `{device}`, N = {rows[0]['n']}, "
             f"P = {rows[0]['params']})", "",
             "| kfac | median fit (s) | min fit (s) | log marglik (layerwise prior 1) |", "|---|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['kfac']} | {row['median_s']:.3f} | {row['min_s']:.3f} | {row['lml']:.1f} |")
    expand, reduce = rows[0]["median_s"], rows[1]["median_s"]
    lines += ["", f"reduce / expand fit time: {reduce / expand:.2f}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--epochs", type=int, default=100, help="MAP epochs of the laplace job")
    parser.add_argument("--marglik-epochs", type=int, default=30, help="epochs per marglik candidate")
    parser.add_argument("--repeats", type=int, default=3, help="timed K-FAC fits per flavour (after one warm-up)")
    parser.add_argument("--kfac-n", type=int, default=None, help="training points of the K-FAC fit (default all)")
    parser.add_argument("--skip-jobs", action="store_true")
    parser.add_argument("--skip-kfac", action="store_true")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}"
          + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""))
    if not args.skip_jobs:
        print()
        print(_job_tables(run_jobs(args.device, args.epochs, args.marglik_epochs), args.device))
    if not args.skip_kfac:
        print()
        print(_kfac_table(kfac_fit_times(torch.device(args.device), args.repeats, args.kfac_n), args.device))


if __name__ == "__main__":
    main()
