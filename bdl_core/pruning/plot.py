"""PNG plot of accuracy- (or RMSE-) versus-sparsity curves, shared by the ``prune`` job and the benchmark.

matplotlib is imported inside the function (Agg back end), so importing
``bdl_core.pruning`` never needs it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence


def plot_pruning_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]],
    metric: str = "accuracy",
    title: str = "",
    panels: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]]] | None = None,
) -> bytes:
    """Render curves as a PNG.

    Args:
        curves: ``{label: (sparsities, values, spreads or None)}``; spreads are drawn as
            +-bands (e.g. a standard deviation over seeds). Ignored when ``panels`` is given.
        metric: y-axis label (``"accuracy"``, ``"rmse"``, ...).
        title: Figure title.
        panels: Several side-by-side panels ``{panel title: curves}`` sharing the y axis.

    Returns:
        The PNG file's bytes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = dict(panels) if panels else {"": curves}
    fig, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 4.0), sharey=True, squeeze=False)
    for ax, (panel_title, panel_curves) in zip(axes[0], groups.items()):
        for label, (xs, ys, spread) in panel_curves.items():
            xs, ys = [100 * x for x in xs], list(ys)
            line, = ax.plot(xs, ys, marker="o", markersize=3, label=label)
            if spread is not None:
                lower = [y - s for y, s in zip(ys, spread)]
                upper = [y + s for y, s in zip(ys, spread)]
                ax.fill_between(xs, lower, upper, alpha=0.2, color=line.get_color())
        ax.set_xlabel("sparsity (%)")
        ax.set_title(panel_title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel(f"held-out {metric}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()
