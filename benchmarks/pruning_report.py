"""Tables, claim checks and the plot of the SpaM pruning benchmark (:mod:`benchmarks.pruning`).

Claims of Dhahri et al. (2024) checked, each on paired seeds (same split and initialisation):

(a) at >= 90 % sparsity, marginal-likelihood training with the unit-wise prior keeps far more
    accuracy than MAP training (same criterion);
(b) OPD is at least as good as magnitude and SNIP at high sparsity (same training);
(c) the log marginal likelihood ranks the priors as held-out accuracy after pruning does.

Verdicts are printed with the numbers they rest on; "holds" needs the mean paired difference
to have the claimed sign on every seed, "mixed" means the mean does but some seed does not.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import defaultdict
from pathlib import Path

from bdl_core.pruning import plot_pruning_curves

HIGH = 0.9  # "high sparsity" threshold of claims (a) and (b)
SPAM = "marglik:unitwise"


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _fmt(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    if not values:
        return "n/a"
    mean, std = _mean_std(values)
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


def _accuracy(rows: list[dict]) -> dict[tuple, dict[int, float]]:
    """{(model, training, criterion, sparsity): {seed: accuracy}}."""
    table: dict[tuple, dict[int, float]] = defaultdict(dict)
    for r in rows:
        table[(r["model"], r["training"], r["criterion"], r["sparsity"])][r["seed"]] = r["accuracy"]
    return table


def _paired(a: dict[int, float], b: dict[int, float]) -> list[float]:
    return [a[s] - b[s] for s in sorted(set(a) & set(b))]


def _verdict(diffs: list[float], margin: float = 0.0) -> str:
    """'holds' if every paired difference > -margin ... see the module docstring."""
    if not diffs:
        return "n/a"
    if all(d > -margin for d in diffs):
        return "holds"
    return "mixed" if statistics.fmean(diffs) > -margin else "does not hold"


def print_report(facts: list[dict], rows: list[dict], args: argparse.Namespace, structured: bool = False) -> None:
    """Print every table and the claim checks (markdown) of one pruning mode."""
    failed = [f for f in facts if "failed" in f]
    facts = [f for f in facts if "failed" not in f]
    models = list(dict.fromkeys(f["model"] for f in facts))
    trainings = list(dict.fromkeys(f["training"] for f in facts))
    criteria, sparsities = args.criteria, args.sparsities
    acc = _accuracy(rows)
    seeds = sorted({f["seed"] for f in facts})
    kind = "structured (units per layer)" if structured else "unstructured (global threshold)"
    print(f"\n## Pruning benchmark: digits, {kind}, posterior {args.structure}, seeds {seeds}, "
          f"{args.epochs} epochs, fine-tuning {args.finetune_epochs} epochs\n")

    for f in failed:
        print(f"FAILED training (left out): {f['model']} {f['training']} seed {f['seed']}: {f['failed']}")
    print("\n### Trained networks (before pruning)\n")
    print("| model | training | test accuracy % | log marginal likelihood | parameters | train s |")
    print("|---|---|---|---|---|---|")
    for m in models:
        for t in trainings:
            group = [f for f in facts if f["model"] == m and f["training"] == t]
            if not group:
                continue
            print(f"| {m} | {t} | {_fmt([f['accuracy'] for f in group])} | "
                  f"{_fmt([f['log_marglik'] for f in group], 1.0, 1)} | {group[0]['n_params']} | "
                  f"{statistics.fmean(f['train_s'] for f in group):.0f} |")

    for m in models:
        print(f"\n### {m}: held-out accuracy % (mean ± std over seeds) by target sparsity\n")
        print("| training + criterion | " + " | ".join(f"{s:.0%}" for s in sparsities) + " |")
        print("|---|" + "---|" * len(sparsities))
        for t in trainings:
            for c in criteria:
                cells = [_fmt(list(acc[(m, t, c, s)].values()), digits=1) for s in sparsities]
                print(f"| {t} + {c} | " + " | ".join(cells) + " |")
        print(f"\n{m}: deployed size at each sparsity (mean over seeds; criterion {criteria[0]})\n")
        print("| training | quantity | " + " | ".join(f"{s:.0%}" for s in sparsities) + " |")
        print("|---|---|" + "---|" * len(sparsities))
        for t in trainings:
            for key, label in (("n_nonzero", "non-zero params"), ("flops_sparse", "kFLOPs / example")):
                cells = []
                for s in sparsities:
                    vals = [r[key] for r in rows if (r["model"], r["training"], r["criterion"], r["sparsity"])
                            == (m, t, criteria[0], s)]
                    value = statistics.fmean(vals) / (1000 if key == "flops_sparse" else 1) if vals else math.nan
                    cells.append(f"{value:.0f}")
                print(f"| {t} | {label} | " + " | ".join(cells) + " |")

    high = [s for s in sparsities if s >= HIGH - 1e-9]
    print(f"\n### Claim (a): {SPAM} minus MAP, accuracy points at sparsity >= {HIGH:.0%} (paired seeds)\n")
    if SPAM in trainings and "map" in trainings:
        print("| model | criterion | " + " | ".join(f"{s:.0%}" for s in high) + " | verdict (> +10 points) |")
        print("|---|---|" + "---|" * (len(high) + 1))
        for m in models:
            for c in criteria:
                diffs = {s: _paired(acc[(m, SPAM, c, s)], acc[(m, "map", c, s)]) for s in high}
                verdicts = {_verdict([d - 0.10 for d in diffs[s]]) for s in high}
                verdict = "holds" if verdicts == {"holds"} else ("does not hold" if "does not hold" in verdicts
                                                                  else "mixed")
                print(f"| {m} | {c} | " + " | ".join(_fmt(diffs[s]) for s in high) + f" | {verdict} |")
    else:
        print("(needs both 'map' and the unit-wise prior)")

    print(f"\n### Claim (b): OPD minus magnitude / SNIP, accuracy points at sparsity >= {HIGH:.0%} (paired seeds)\n")
    others = [c for c in ("magnitude", "snip") if c in criteria]
    if "opd" in criteria and others:
        print("| model | training | versus | " + " | ".join(f"{s:.0%}" for s in high) + " | verdict (>= -1 point) |")
        print("|---|---|---|" + "---|" * (len(high) + 1))
        for m in models:
            for t in trainings:
                for o in others:
                    diffs = {s: _paired(acc[(m, t, "opd", s)], acc[(m, t, o, s)]) for s in high}
                    pooled = [d for s in high for d in diffs[s]]
                    print(f"| {m} | {t} | {o} | " + " | ".join(_fmt(diffs[s]) for s in high) +
                          f" | {_verdict(pooled, margin=0.01)} |")

    print("\n### Claim (c): do the priors' evidences rank them as accuracy after pruning does?\n")
    priors = [t for t in trainings if t.startswith("marglik:") and any(r["training"] == t for r in rows)]
    crit = "opd" if "opd" in criteria else criteria[0]
    if len(priors) < 2:
        print("(needs at least two priors)")
        return
    print(f"| model | prior | log marglik | dense acc % | {crit} acc % at " + " | ".join(f"{s:.0%}" for s in high)
          + " |")
    print("|---|---|---|---|" + "---|" * len(high))
    for m in models:
        here = [t for t in priors if any((f["model"], f["training"]) == (m, t) for f in facts)]
        lml = {t: [f["log_marglik"] for f in facts if (f["model"], f["training"]) == (m, t)] for t in here}
        dense = {t: [f["accuracy"] for f in facts if (f["model"], f["training"]) == (m, t)] for t in here}
        for t in here:
            print(f"| {m} | {t.split(':')[1]} | {_fmt(lml[t], 1.0, 1)} | {_fmt(dense[t])} | " +
                  " | ".join(_fmt(list(acc[(m, t, crit, s)].values())) for s in high) + " |")
        if len(here) < 2:
            continue
        by_lml = sorted(here, key=lambda t: -statistics.fmean(lml[t]))
        pruned = {t: statistics.fmean(acc[(m, t, crit, s)][seed] for s in high for seed in acc[(m, t, crit, s)])
                  for t in here}
        by_acc = sorted(here, key=lambda t: -pruned[t])
        agree = _rank_correlation([by_lml.index(t) for t in here], [by_acc.index(t) for t in here])
        print(f"\n{m}: evidence order {[t.split(':')[1] for t in by_lml]}, pruned-accuracy order "
              f"(mean over >= {HIGH:.0%}) {[t.split(':')[1] for t in by_acc]}, Spearman {agree:+.2f}: "
              f"{'consistent' if by_lml == by_acc else 'best prior agrees' if by_lml[0] == by_acc[0] else 'inconsistent'}")


def _rank_correlation(a: list[int], b: list[int]) -> float:
    n = len(a)
    d2 = sum((x - y) ** 2 for x, y in zip(a, b))
    return 1.0 - 6.0 * d2 / (n * (n * n - 1))


def write_plot(rows: list[dict], path: Path, structured: bool = False) -> None:
    """Accuracy curves (mean ± std over seeds), one panel per model: MAP and unit-wise marglik training."""
    panels = {}
    for m in dict.fromkeys(r["model"] for r in rows):
        curves = {}
        for t in ("map", SPAM):
            for c in dict.fromkeys(r["criterion"] for r in rows):
                name = c if c == "magnitude" else c.upper()
                label = ("MAP" if t == "map" else "marglik (unit-wise)") + f" + {name}"
                points = defaultdict(list)
                for r in rows:
                    if (r["model"], r["training"], r["criterion"]) == (m, t, c):
                        points[r["sparsity"]].append(r["accuracy"])
                if points:
                    xs = sorted(points)
                    curves[label] = (xs, [statistics.fmean(points[x]) for x in xs],
                                     [statistics.stdev(points[x]) if len(points[x]) > 1 else 0.0 for x in xs])
        panels[f"digits, {m}"] = curves
    title = "SpaM pruning (" + ("structured" if structured else "unstructured") + "), mean ± std over seeds"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plot_pruning_curves({}, "accuracy", title, panels=panels))
