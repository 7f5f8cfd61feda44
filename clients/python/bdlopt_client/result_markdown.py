"""Markdown summaries of job results, one renderer per kind (``JobResult.to_markdown()``).

``laplace`` and ``marglik`` lead with the verdict a reader needs (did the Laplace predictive beat
the MAP network on the held-out split, and what to do if not), then the metrics side by side;
``nam`` uses :meth:`~service.sdk.nam.NamFit.to_markdown`; ``prune`` the metric per criterion and
sparsity; any other kind (a plugin's) its scalar fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:.4g}"
    return str(value)


def _metrics_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    names = list(dict.fromkeys(key for metrics in rows.values() for key in metrics))
    lines = ["| predictive | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, metrics in rows.items():
        lines.append(f"| {label} | " + " | ".join(_number(metrics.get(n)) for n in names) + " |")
    return lines


def _verdict(result: dict[str, Any]) -> list[str]:
    beats = result.get("laplace_beats_map") or {}
    if not beats:
        return []
    parts = ", ".join(f"{metric}: {'yes' if won else 'no'}" for metric, won in beats.items())
    lines = [f"Laplace beats MAP on the held-out split? {parts}"]
    if result.get("advice"):
        lines.append(f"\n> {result['advice']}")
    return lines


def laplace_markdown(result: dict[str, Any]) -> str:
    """Verdict, held-out metrics of both predictives, evidence and hyperparameters of a ``laplace`` job."""
    lines = [f"**laplace** ({result.get('structure')}, prior tuning {result.get('prior_tuning')})", ""]
    lines += _verdict(result) + [""]
    lines += _metrics_table({"MAP": result.get("map", {}), "Laplace": result.get("laplace", {})})
    lines += ["", f"log marginal likelihood {_number(result.get('log_marginal_likelihood'))} "
                  f"(before tuning {_number(result.get('log_marginal_likelihood_before_tuning'))}); "
                  f"prior precision {result.get('prior_precision')}; sigma {_number(result.get('sigma_noise'))}"]
    return "\n".join(lines)


def marglik_markdown(result: dict[str, Any]) -> str:
    """Chosen candidate, verdict and one row per candidate of a ``marglik`` job."""
    lines = [f"**marglik**: chosen {result.get('chosen')} (best on test: {result.get('best_on_test')})", ""]
    lines += _verdict(result) + [""]
    metric = result.get("selection_metric", "nll")
    lines += [f"| candidate | log marglik | MAP nll | Laplace nll | Laplace {metric} | Laplace beats MAP (nll) |",
              "|---|---|---|---|---|---|"]
    for c in result.get("candidates", []):
        lines.append(f"| {c.get('name')} | {_number(c.get('log_marginal_likelihood'))} | "
                     f"{_number(c.get('map', {}).get('nll'))} | {_number(c.get('laplace', {}).get('nll'))} | "
                     f"{_number(c.get('laplace', {}).get(metric))} | "
                     f"{_number((c.get('laplace_beats_map') or {}).get('nll'))} |")
    return "\n".join(lines)


def nam_markdown(result: dict[str, Any], job_id: str) -> str:
    """A ``nam`` job through :class:`~service.sdk.nam.NamFit`."""
    from .nam import NamFit

    return NamFit(job_id=job_id, **result).to_markdown()


def prune_markdown(result: dict[str, Any]) -> str:
    """The held-out metric per criterion (rows) and sparsity (columns) of one ``prune`` job."""
    metric = result.get("metric", "accuracy")
    rows = result.get("table", [])
    sparsities = sorted({r["sparsity"] for r in rows if "sparsity" in r})
    lines = [f"**prune** ({result.get('training')}, {result.get('structure')}): {metric}; dense "
             f"{_number(result.get('dense', {}).get(metric))}", "",
             "| criterion | " + " | ".join(f"{s:.0%}" for s in sparsities) + " |", "|---|" + "---|" * len(sparsities)]
    for criterion in dict.fromkeys(r.get("criterion") for r in rows):
        values = {r["sparsity"]: r.get(metric) for r in rows if r.get("criterion") == criterion and "sparsity" in r}
        lines.append(f"| {criterion} | " + " | ".join(_number(values.get(s, "")) for s in sparsities) + " |")
    return "\n".join(lines)


def generic_markdown(kind: str, result: dict[str, Any]) -> str:
    """The scalar fields of any other kind's result."""
    lines = [f"**{kind}**", "", "| field | value |", "|---|---|"]
    lines += [f"| {key} | {_number(value)} |" for key, value in result.items()
              if isinstance(value, (int, float, str, bool)) or value is None]
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "laplace": laplace_markdown, "marglik": marglik_markdown, "prune": prune_markdown,
}


def result_markdown(kind: str | None, result: dict[str, Any], job_id: str) -> str:
    """The markdown summary of a result of ``kind``."""
    if kind == "nam":
        return nam_markdown(result, job_id)
    renderer = RENDERERS.get(kind or "")
    return renderer(result) if renderer is not None else generic_markdown(kind or "job", result)
