"""Screenshots of every dashboard page for the README: ``python -m tests.ui.take_screenshots``.

Serves a fresh database on a free port, fills it through the public API (a GP study run for 30
trials, a study of two objectives under a constraint run for 30 trials, an LA-NAM job on sklearn's
diabetes data, a marglik job left running) and writes ``docs/images/dashboard_*.png`` with the
system Chromium (``dashboard_pareto.png``: the top of the two-objective study's page, down to its
Pareto front card). Takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from tests.live_server import live_server
from tests.ui.browser import CHROMIUM, chromium_unavailable_reason
from tests.ui.seed import create_multiobjective_study, create_study, error_cost_latency, objective

ROOT = Path(__file__).resolve().parents[2]
MAX_HEIGHT = 2700  # pixels of a page kept in its picture (a job's result tables run on)


def _optimise(client: httpx.Client, study_id: str, n_trials: int, measure=lambda p: {"loss": objective(p)}) -> None:
    for _ in range(n_trials):
        (trial,) = client.post(f"/v1/studies/{study_id}/suggest", json={"count": 1}).json()["trials"]
        client.post(f"/v1/studies/{study_id}/observe",
                    json={"trial_id": trial["id"], "values": measure(trial["params"])}).raise_for_status()


def _wait(client: httpx.Client, job_id: str, timeout: float = 900.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := client.get(f"/v1/jobs/{job_id}").json())["state"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} did not finish: {job}")
        time.sleep(1.0)
    return job


def _fill(client: httpx.Client) -> tuple[str, str, str]:
    study = create_study(client, "branin-lr-optimizer", 8, seed=3)
    _optimise(client, study["id"], 22)
    multi = create_multiobjective_study(client, "error-vs-cost", 8, seed=4)
    _optimise(client, multi["id"], 22, error_cost_latency)
    create_study(client, "warm-start-demo", 12, seed=5, categorical=False)
    nam = client.post("/v1/jobs", json={"kind": "nam", "dataset": "sklearn:diabetes", "task": "regression",
                                        "config": {"epochs": 60, "seed": 0}}).json()
    nam = _wait(client, nam["id"])
    client.post("/v1/jobs", json={"kind": "marglik", "dataset": "sklearn:digits", "task": "classification",
                                  "config": {"epochs": 500}}).raise_for_status()
    return study["id"], multi["id"], nam["id"]


def _shoot(base_url: str, pages: dict[str, tuple[str, str, str | None]], out: Path) -> None:
    """``pages``: name -> (path, selector to wait for, element whose bottom ends the picture or None)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        for name, (path, ready, last) in pages.items():
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base_url + path)
            page.wait_for_selector(ready, timeout=300_000)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1500)
            height = min(MAX_HEIGHT, page.evaluate("() => document.documentElement.scrollHeight") if last is None else
                         page.evaluate("(s) => Math.ceil(document.querySelector(s).getBoundingClientRect().bottom) + 16", last))
            page.screenshot(path=str(out / f"dashboard_{name}.png"), full_page=True,
                            clip={"x": 0, "y": 0, "width": 1400, "height": height})
            print("wrote", out / f"dashboard_{name}.png")
            page.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    reason = chromium_unavailable_reason()
    if reason:
        raise SystemExit(reason)
    with tempfile.TemporaryDirectory() as data:
        env = {"BDLOPT_DATA_DIR": data}
        with live_server(f"sqlite:///{Path(data) / 'shots.db'}", extra_env=env) as base_url:
            with httpx.Client(base_url=base_url, timeout=300) as client:
                study_id, multi_id, nam_id = _fill(client)
            _shoot(base_url, {
                "studies": ("/ui", "#studies tbody tr", None),
                "study": (f"/ui/studies/{study_id}", "#importances .bars", None),
                "pareto": (f"/ui/studies/{multi_id}", "#pareto-plot .scatterlayer .trace", "#pareto-card"),
                "jobs": ("/ui/jobs", "#jobs .state.running", None),
                "job": (f"/ui/jobs/{nam_id}", "#plots img", None),
                "docs": ("/docs", ".opblock", None),
                "redoc": ("/redoc", "[data-section-id]", None),
            }, args.out)


if __name__ == "__main__":
    main()
