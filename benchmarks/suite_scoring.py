"""Scoring of the benchmark suite (``python -m benchmarks.suite``): Bayesmark-style normalisation, tables, chart.

A run record is ``{"task", "method", "seed", "curve", "seconds"}``: the best value so far after
each evaluation (minimisation; one entry per evaluation) and the wall time of the run in seconds. Per task, each seed's final best
value ``b`` is normalised as in Bayesmark::

    score = 100 * (r - b) / (r - o)

where ``r`` is the median over seeds of random search's final best value and ``o`` the optimum:
the known global minimum for synthetic functions, and for tuning tasks (optimum unknown) the best
value any method found in any seed of the same run. Random search's median therefore scores 0 and
the optimum 100; a negative score is worse than random's median. The score is affine in ``b``, so a
method's median score is the score of its median final best. A task on which random's median is
already at the optimum (``r == o``) cannot be normalised: its scores are NaN and it is left out of
the means (the tables say so).

``score_tasks`` builds the per-task summaries, ``task_tables`` / ``summary_table`` render markdown,
``plot_scores`` writes a heat map (tasks x methods) with the mean score per method as bars.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RANDOM = "random"


def normalised_score(best: float, random_median: float, optimum: float) -> float:
    """``100 (random_median - best) / (random_median - optimum)``; NaN when ``random_median <= optimum``."""
    span = random_median - optimum
    if not span > 0.0:
        return math.nan
    return 100.0 * (random_median - best) / span


@dataclass
class MethodResult:
    """One method on one task: per-seed final bests (seed order), their scores, medians, run time."""

    method: str
    finals: list[float]
    scores: list[float]
    median_best: float
    median_score: float
    beats_random: bool  # median final best strictly below random's median final best
    median_seconds: float


@dataclass
class TaskResult:
    """One task: the optimum used and where it came from, random's median, the methods' results."""

    task: str
    optimum: float
    optimum_source: str  # "known" or "best seen in this run"
    random_median: float
    methods: dict[str, MethodResult] = field(default_factory=dict)

    @property
    def informative(self) -> bool:
        """False when random's median already reaches the optimum (scores undefined)."""
        return self.random_median > self.optimum


def score_tasks(records: Iterable[Mapping[str, Any]], known_optima: Mapping[str, float | None]) -> list[TaskResult]:
    """Per-task results for every task in ``known_optima`` (task -> known optimum, None if unknown).

    Raises:
        ValueError: a task has no ``random`` runs (the normalisation needs them).
    """
    by_key: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for record in records:
        by_key.setdefault((record["task"], record["method"]), []).append(record)
    results = []
    for task, known in known_optima.items():
        methods = [m for (t, m) in by_key if t == task]
        if RANDOM not in methods:
            raise ValueError(f"task '{task}': no '{RANDOM}' runs, which the normalised score needs")
        finals = {m: [min(r["curve"]) for r in sorted(by_key[(task, m)], key=lambda r: r["seed"])] for m in methods}
        if known is None:
            optimum, source = min(min(v) for v in finals.values()), "best seen in this run"
        else:
            optimum, source = float(known), "known"
        random_median = statistics.median(finals[RANDOM])
        result = TaskResult(task, optimum, source, random_median)
        for method in [RANDOM] + sorted(m for m in methods if m != RANDOM):
            scores = [normalised_score(b, random_median, optimum) for b in finals[method]]
            median_best = statistics.median(finals[method])
            seconds = statistics.median(r["seconds"] for r in by_key[(task, method)])
            result.methods[method] = MethodResult(
                method, finals[method], scores, median_best, normalised_score(median_best, random_median, optimum),
                median_best < random_median, seconds)
        results.append(result)
    return results


def method_order(results: Sequence[TaskResult], preferred: Sequence[str] = ()) -> list[str]:
    """Methods in ``preferred`` order, then any others seen, alphabetically."""
    seen = {m for r in results for m in r.methods}
    return [m for m in preferred if m in seen] + sorted(seen - set(preferred))


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"


def task_tables(results: Sequence[TaskResult], methods: Sequence[str]) -> str:
    """One markdown table per task: median best, median and per-seed scores, better than random, run time."""
    lines = []
    for r in results:
        note = "" if r.informative else " -- random's median is at the optimum: scores undefined, left out of the means"
        lines.append(f"\n### {r.task} (optimum {_fmt(r.optimum)}, {r.optimum_source}; random median {_fmt(r.random_median)}){note}\n")
        lines.append("| method | median final best | median score | per-seed scores | median best < random's | median run (s) |")
        lines.append("|---|---:|---:|---|:---:|---:|")
        for m in methods:
            if m not in r.methods:
                continue
            x = r.methods[m]
            per_seed = ", ".join(f"{s:.0f}" if not math.isnan(s) else "-" for s in x.scores)
            better = "-" if m == RANDOM else ("yes" if x.beats_random else "no")
            lines.append(f"| {m} | {_fmt(x.median_best)} | {_fmt(x.median_score)} | {per_seed} | {better} | {x.median_seconds:.1f} |")
    return "\n".join(lines)


def summary_rows(results: Sequence[TaskResult], methods: Sequence[str],
                 groups: Mapping[str, Sequence[str]] | None = None) -> list[dict[str, Any]]:
    """Per method: mean over informative tasks of its median score (overall and per group), tasks beating random."""
    rows = []
    for m in methods:
        row: dict[str, Any] = {"method": m}
        for label, names in {"all": [r.task for r in results], **(groups or {})}.items():
            scores = [r.methods[m].median_score for r in results
                      if r.task in names and r.informative and m in r.methods]
            row[label] = statistics.fmean(scores) if scores else math.nan
        row["beats_random"] = sum(1 for r in results if m in r.methods and r.methods[m].beats_random)
        row["tasks"] = sum(1 for r in results if m in r.methods)
        rows.append(row)
    return rows


def summary_table(results: Sequence[TaskResult], methods: Sequence[str],
                  groups: Mapping[str, Sequence[str]] | None = None) -> str:
    """Markdown summary: mean normalised score per method (all tasks and per group), tasks better than random."""
    groups = groups or {}
    header = "| method | mean score (all tasks) | " + " | ".join(f"mean score ({g})" for g in groups) + \
        (" | " if groups else "") + "tasks with median best < random's |"
    lines = [header, "|---|---:|" + "---:|" * len(groups) + "---:|"]
    for row in summary_rows(results, methods, groups):
        cells = [f"{row['all']:.1f}"] + [f"{row[g]:.1f}" for g in groups]
        better = "-" if row["method"] == RANDOM else f"{row['beats_random']}/{row['tasks']}"
        lines.append(f"| {row['method']} | " + " | ".join(cells) + f" | {better} |")
    return "\n".join(lines)


def plot_scores(results: Sequence[TaskResult], methods: Sequence[str], path: Path, title: str) -> None:
    """Heat map of median normalised scores (rows tasks, columns methods; colours clipped to [-50, 100])
    beside a bar chart of each method's mean score over tasks; written as a PNG to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    grid = np.array([[r.methods[m].median_score if m in r.methods else np.nan for m in methods] for r in results])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(6 + 1.6 * len(methods), 2.0 + 0.38 * len(results)),
                                 gridspec_kw={"width_ratios": [len(methods), max(2, len(methods))]})
    norm = matplotlib.colors.TwoSlopeNorm(vmin=-50, vcenter=0, vmax=100)  # random's 0 in the neutral colour
    image = ax.imshow(np.clip(grid, -50, 100), cmap="RdYlGn", norm=norm, aspect="auto")
    ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
    ax.set_yticks(range(len(results)), [r.task for r in results])
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.0f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.04, label="median score")
    means = [row["all"] for row in summary_rows(results, methods)]
    bx.barh(range(len(methods)), means, color="tab:blue")
    bx.set_yticks(range(len(methods)), methods)
    bx.invert_yaxis()
    bx.axvline(0, color="grey", linewidth=0.8)
    bx.set_xlabel("mean over tasks of the median score")
    for k, value in enumerate(means):
        if not math.isnan(value):
            bx.text(value, k, f" {value:.1f}", va="center", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
