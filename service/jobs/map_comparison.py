"""Does the Laplace predictive beat the MAP network on held-out data? One answer for every job kind.

A Laplace predictive that is worse than the plain trained network (typically: an evidence-chosen
prior so broad that it is underconfident) must say so in the result instead of leaving a reader to
compare numbers. ``laplace_beats_map`` holds one bool per metric (lower NLL; lower ECE for
classification), and ``advice`` says what to do when the Laplace predictive loses on NLL.
"""

from __future__ import annotations

from typing import Any

#: Metrics compared (lower is better), by task.
COMPARED = {"classification": ("nll", "ece"), "regression": ("nll",)}


def laplace_beats_map(map_metrics: dict[str, float], laplace_metrics: dict[str, float], task: str
                      ) -> dict[str, bool]:
    """``{metric: laplace < map}`` for the compared metrics of ``task`` (NLL, and ECE for classification)."""
    return {name: bool(laplace_metrics[name] < map_metrics[name]) for name in COMPARED[task]}


def advice(beats: dict[str, bool], map_metrics: dict[str, float], laplace_metrics: dict[str, float],
           prior_tuning: str) -> str | None:
    """None when the Laplace predictive has the lower held-out NLL, else what to try next."""
    if beats["nll"]:
        return None
    worse = (f"The Laplace predictive is worse than the MAP network on the held-out NLL "
             f"({laplace_metrics['nll']:.4g} vs {map_metrics['nll']:.4g}).")
    if prior_tuning in ("marglik", "none"):
        return worse + (" Its prior was chosen by the marginal likelihood; rerun with prior_tuning='auto' (or "
                        "'validation') to tune it on held-out training rows, or use the MAP network's predictions.")
    return worse + " Prefer the MAP network's predictions for this model and data."


def comparison_report(map_metrics: dict[str, float], laplace_metrics: dict[str, float], task: str,
                      prior_tuning: str) -> dict[str, Any]:
    """The result fields ``laplace_beats_map`` and ``advice``."""
    beats = laplace_beats_map(map_metrics, laplace_metrics, task)
    return {"laplace_beats_map": beats, "advice": advice(beats, map_metrics, laplace_metrics, prior_tuning)}
