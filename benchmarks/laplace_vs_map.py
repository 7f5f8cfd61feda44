"""Does each ``laplace`` job say correctly whether its Laplace predictive beat the MAP network, and does
``prior_tuning: "auto"`` keep the final predictive from being worse than the MAP? (markdown table)

For breast_cancer, wine and digits (classification) and diabetes (regression), a ``laplace`` job with
the default config (``prior_tuning: "marglik"``) and one with ``prior_tuning: "auto"`` run through the
HTTP API (in-process app, local back end), per seed. Columns: held-out NLL of the MAP network and of
the Laplace predictive, the job's ``laplace_beats_map["nll"]``, whether that verdict matches the two
NLLs, and for ``auto`` whether it switched to the validation grid or fell back to the MAP-like prior,
and its NLL minus the MAP's. The
MAP network of the ``auto`` job is trained on 80% of the training rows (20% held out for tuning), so
its own MAP NLL is listed next to it.

    python -m benchmarks.laplace_vs_map [--seeds 0 1] [--datasets breast_cancer wine digits diabetes]
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

TASKS = {"breast_cancer": "classification", "wine": "classification", "digits": "classification",
         "diabetes": "regression"}


def run(datasets: list[str], seeds: list[int], epochs: int | None) -> list[dict]:
    """One row per dataset and seed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from service.api.app import create_app
    from service.config import Settings
    from service.sdk import Client

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory), local_workers=1, rate_limit_jobs_per_minute=0)
        with TestClient(create_app(settings)) as http:
            client = Client(http_client=http)
            for name in datasets:
                for seed in seeds:
                    results = {}
                    for tuning in ("marglik", "auto"):
                        config = {"seed": seed, "prior_tuning": tuning, "plots": False}
                        if epochs is not None:
                            config["epochs"] = epochs
                        job = client.submit_job("laplace", f"sklearn:{name}", task=TASKS[name], config=config)
                        job = client.wait(job, progress=False)
                        if job.state != "succeeded":
                            raise RuntimeError(f"{name} seed {seed} {tuning}: {job.state} {job.error}")
                        results[tuning] = client.result(job).result
                    default, auto = results["marglik"], results["auto"]
                    verdict = default["laplace_beats_map"]["nll"]
                    rows.append({
                        "dataset": name, "seed": seed, "map_nll": default["map"]["nll"],
                        "laplace_nll": default["laplace"]["nll"], "says_beats": verdict,
                        "correct": verdict == (default["laplace"]["nll"] < default["map"]["nll"]),
                        "auto_map_nll": auto["map"]["nll"], "auto_nll": auto["laplace"]["nll"],
                        "auto_switched": (auto.get("auto") or {}).get("switched_to_validation"),
                        "auto_fallback": (auto.get("auto") or {}).get("fell_back_to_map"),
                        "auto_minus_map": auto["laplace"]["nll"] - auto["map"]["nll"],
                    })
                    print(_row(rows[-1]), flush=True)
    return rows


HEADER = ("| dataset | seed | MAP NLL | Laplace NLL (default) | says beats MAP | verdict correct | "
          "auto: MAP NLL | auto: Laplace NLL | auto switched to validation | auto fell back to MAP | auto - MAP |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|")


def _row(r: dict) -> str:
    return (f"| {r['dataset']} | {r['seed']} | {r['map_nll']:.4f} | {r['laplace_nll']:.4f} | {r['says_beats']} | "
            f"{r['correct']} | {r['auto_map_nll']:.4f} | {r['auto_nll']:.4f} | {r['auto_switched']} | {r['auto_fallback']} | "
            f"{r['auto_minus_map']:+.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=int, default=None, help="MAP epochs (default: the job's default)")
    args = parser.parse_args()
    print(HEADER, flush=True)
    rows = run(args.datasets, args.seeds, args.epochs)
    print()
    print(f"- verdicts correct: {sum(r['correct'] for r in rows)}/{len(rows)}; auto worst (auto - MAP NLL): "
          f"{max(r['auto_minus_map'] for r in rows):+.4f}")


if __name__ == "__main__":
    main()
