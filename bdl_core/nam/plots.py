"""PNG figures of an additive model: one per shape function, one per pair term, importances.

The functions take plain sequences in display units (original feature units, target units) so
that callers convert once. matplotlib is imported inside each function with the Agg back end,
so importing this module needs no display and no matplotlib unless a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

from bdl_core.figures import png_bytes, pyplot


def plot_shape(label: str, grid: Sequence[float], mean: Sequence[float], lower: Sequence[float],
               upper: Sequence[float], data: Sequence[float] = (), levels: Sequence[str] | None = None,
               ylabel: str = "contribution", note: str = "") -> bytes:
    """One shape function with its 95% credible band and a rug of the training data.

    Args:
        label: Feature name (x-axis label and title).
        grid: (M,) x values (numerical) or codes 0..K-1 (categorical).
        mean, lower, upper: (M,) centred term values and band limits.
        data: Training values of the feature for the rug (numerical) or the level counts' source.
        levels: Level names of a categorical feature (draws points with error bars instead).
        ylabel: y-axis label (e.g. the target's units or "logit").
        note: Extra text in the title (e.g. the learned prior precision).

    Returns:
        PNG bytes.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    ax.axhline(0.0, color="0.6", lw=0.8, zorder=0)
    if levels is not None:
        x = list(range(len(levels)))
        err = [[m - lo for m, lo in zip(mean, lower)], [up - m for m, up in zip(mean, upper)]]
        ax.errorbar(x, mean, yerr=err, fmt="o", color="C0", ecolor="C0", capsize=4, label="mean, 95% band")
        ax.set_xticks(x, [str(v) for v in levels], rotation=30 if len(levels) > 4 else 0)
        if len(data):
            counts = [sum(1 for v in data if int(round(v)) == k) for k in x]
            top = max(counts) or 1
            bottom = min(lower)
            height = 0.15 * ((max(upper) - bottom) or 1.0)
            ax.bar(x, [height * c / top for c in counts], bottom=bottom - 1.2 * height, width=0.5, color="0.8",
                   label="data share")
    else:
        ax.fill_between(grid, lower, upper, color="C0", alpha=0.25, lw=0, label="95% band")
        ax.plot(grid, mean, color="C0", lw=1.8, label="mean")
        if len(data):
            low = min(lower)
            span = (max(upper) - low) or 1.0
            ax.plot(data, [low - 0.04 * span] * len(data), "|", color="0.3", ms=6, alpha=0.35, label="data")
    ax.set_xlabel(label)
    ax.set_ylabel(ylabel)
    ax.set_title(label + (f"  ({note})" if note else ""), fontsize=10)
    ax.legend(fontsize=7, loc="best", frameon=False)
    return png_bytes(fig)


def plot_pair(label_i: str, label_j: str, grid_i: Sequence[float], grid_j: Sequence[float],
              mean: Sequence[Sequence[float]], std: Sequence[Sequence[float]], ylabel: str = "contribution") -> bytes:
    """A pair term as two heat maps: centred mean and posterior standard deviation.

    Args:
        label_i, label_j: Feature names.
        grid_i: (M_i,) values of feature i (rows of ``mean``); grid_j: (M_j,) of feature j.
        mean, std: (M_i, M_j) nested sequences.
        ylabel: Units of the colour scale.

    Returns:
        PNG bytes.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6))
    extent = [min(grid_j), max(grid_j), min(grid_i), max(grid_i)]
    limit = max(abs(v) for row in mean for v in row) or 1.0
    panels = ((axes[0], mean, f"mean ({ylabel})", "RdBu_r", -limit, limit),
              (axes[1], std, "std", "viridis", None, None))
    for ax, values, title, cmap, vmin, vmax in panels:
        image = ax.imshow(values, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_xlabel(label_j)
        ax.set_ylabel(label_i)
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax)
    fig.suptitle(f"{label_i} x {label_j}", fontsize=11)
    return png_bytes(fig)


def plot_importances(labels: Sequence[str], precisions: Sequence[float], shares: Sequence[float]) -> bytes:
    """Summary of the terms: learned prior precision (log scale) and share of the fitted variance.

    Args:
        labels: (T,) term names.
        precisions: (T,) learned prior precisions (large: shrunk by the evidence).
        shares: (T,) shares of the variance of the fitted function over the training data.

    Returns:
        PNG bytes.
    """
    plt = pyplot()
    order = sorted(range(len(labels)), key=lambda t: shares[t])
    height = max(2.5, 0.28 * len(labels) + 1.0)
    fig, axes = plt.subplots(1, 2, figsize=(9.0, height), sharey=True)
    y = list(range(len(order)))
    axes[0].barh(y, [shares[t] for t in order], color="C0")
    axes[0].set_yticks(y, [labels[t] for t in order], fontsize=8)
    axes[0].set_xlabel("share of fitted variance")
    axes[1].barh(y, [precisions[t] for t in order], color="C1")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("learned prior precision (log)")
    fig.suptitle("Term importance: relevant terms have large shares and small precisions", fontsize=10)
    return png_bytes(fig)
