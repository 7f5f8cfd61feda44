"""``benchmarks.suite``: the Bayesmark-style normalisation against hand-computed numbers, and a tiny
end-to-end run (one synthetic function, one scikit-learn task, 1 seed, 8 evaluations of which 4
initial; random, gp and, when Optuna is installed, optuna-tpe) through the CLI entry point."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest

from benchmarks.suite import choices_table, main
from benchmarks.suite_scoring import normalised_score, score_tasks, summary_rows

HAS_OPTUNA = importlib.util.find_spec("optuna") is not None


def _record(task: str, method: str, seed: int, final: float) -> dict:
    return {"task": task, "method": method, "seed": seed, "curve": [final + 1.0, final], "seconds": 1.0}


def test_normalised_score_by_hand():
    # random's median 8, optimum 0: halfway scores 50, random's median 0, the optimum 100, worse is negative.
    assert normalised_score(4.0, 8.0, 0.0) == 50.0
    assert normalised_score(8.0, 8.0, 0.0) == 0.0
    assert normalised_score(0.0, 8.0, 0.0) == 100.0
    assert normalised_score(10.0, 8.0, 0.0) == -25.0
    assert math.isnan(normalised_score(3.0, 3.0, 3.0))  # random already optimal: undefined


def test_score_tasks_by_hand_known_and_unknown_optimum():
    records = [_record(t, "random", s, v) for t in ("known", "unknown") for s, v in enumerate([3.0, 5.0, 4.0])]
    records += [_record(t, "m", s, v) for t in ("known", "unknown") for s, v in enumerate([2.0, 3.0, 6.0])]
    known, unknown = score_tasks(records, {"known": 0.0, "unknown": None})
    # known optimum 0: random median 4 -> m's bests 2, 3, 6 score 50, 25, -50
    assert known.optimum_source == "known" and known.random_median == 4.0
    assert known.methods["m"].scores == [50.0, 25.0, -50.0]
    assert known.methods["m"].median_score == 25.0 and known.methods["m"].beats_random
    assert known.methods["random"].scores == [25.0, -25.0, 0.0] and known.methods["random"].median_score == 0.0
    # unknown optimum: the best value seen in the run (2) -> scores 100, 50, -100
    assert unknown.optimum == 2.0 and unknown.optimum_source == "best seen in this run"
    assert unknown.methods["m"].scores == [100.0, 50.0, -100.0] and unknown.methods["m"].median_score == 50.0
    rows = {row["method"]: row for row in summary_rows([known, unknown], ["random", "m"])}
    assert rows["m"]["all"] == pytest.approx(37.5) and rows["random"]["all"] == 0.0 and rows["m"]["beats_random"] == 2
    with pytest.raises(ValueError, match="random"):
        score_tasks([r for r in records if r["method"] == "m"], {"known": 0.0})


def test_tiny_suite_runs_end_to_end(tmp_path, monkeypatch, capsys):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BDLOPT_TORCH_THREADS"):
        monkeypatch.setenv(var, "1")  # restored after the test (the runner sets them for its workers)
    methods = ["random", "gp"] + (["optuna-tpe"] if HAS_OPTUNA else [])
    tasks = ["six_hump_camel", "svc_breast"]
    main(["--tasks", ",".join(tasks), "--methods", ",".join(methods), "--seeds", "1", "--budget", "8",
          "--initial", "4", "--jobs", "1", "--plots", str(tmp_path)])
    printed = capsys.readouterr().out
    assert (tmp_path / "suite.png").stat().st_size > 0
    data = json.loads((tmp_path / "suite.json").read_text())
    assert data["known_optima"]["six_hump_camel"] == pytest.approx(-1.0316, abs=1e-4)
    assert data["known_optima"]["svc_breast"] is None
    assert sorted((r["task"], r["method"]) for r in data["records"]) == sorted((t, m) for t in tasks for m in methods)
    for record in data["records"]:
        if record["method"] in ("random", "gp"):  # bdlopt runs count their trials per proposing policy
            assert sum(record["policies"].values()) == 8 and record["policies"].get("sobol", 0) >= 4, record
            assert record["method"] == "random" or record["policies"].get("gp", 0) >= 1, record
        curve = record["curve"]
        assert len(curve) == 8 and all(b <= a for a, b in zip(curve, curve[1:])) and all(map(math.isfinite, curve))
    results = score_tasks(data["records"], data["known_optima"])
    for task in results:
        if not task.informative:
            # one seed: random search itself may find the run's best on a tuning task; the scale is then
            # undefined and the table must say so rather than print numbers
            assert task.optimum_source == "best seen in this run" and task.random_median == task.optimum
            assert all(math.isnan(task.methods[m].median_score) for m in methods)
            assert "scores undefined" in printed
            continue
        assert task.methods["random"].median_score == 0.0  # random's own median is the zero of the scale
        for method in methods:
            assert math.isfinite(task.methods[method].median_score), (task.task, method)
            assert task.methods[method].median_score <= 100.0 + 1e-9 or task.optimum_source == "known"
    svc = next(t for t in results if t.task == "svc_breast")
    assert svc.optimum == min(m.median_best for m in svc.methods.values())  # 1 seed: the run's best
    for name in tasks + methods + ["Summary", "mean score (all tasks)", "best seen in this run"]:
        assert name in printed


def test_choices_table_sums_the_models_over_seeds_and_skips_single_model_methods():
    records = [
        {"task": "t", "method": "auto", "seed": 0, "policies": {"sobol": 4, "auto:gp": 3, "auto:lla": 1}},
        {"task": "t", "method": "auto", "seed": 1, "policies": {"sobol": 4, "auto:gp": 4}},
        {"task": "t", "method": "gp", "seed": 0, "policies": {"sobol": 4, "gp": 4}},
        {"task": "t", "method": "optuna-tpe", "seed": 0, "policies": {}},
    ]
    table = choices_table(records)
    assert "| t | auto | auto:gp 7, auto:lla 1 |" in table
    assert "| t | gp |" not in table and "optuna" not in table
    assert choices_table(records[2:]) == ""
