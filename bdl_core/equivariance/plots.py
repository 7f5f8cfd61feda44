"""PNG figures of learned layer-wise equivariance: per-layer shares and the evidence history.

matplotlib is imported inside each function with the Agg back end (no display needed), as in
:mod:`bdl_core.nam.plots`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def plot_shares(groups: Mapping[str, Sequence[Sequence[float]]], title: str = "") -> bytes:
    """Equivariant share per layer, one group of bars per data set or run.

    Args:
        groups: name -> per-run lists of per-layer shares (runs are averaged, their spread drawn
            as error bars), e.g. ``{"digits": [[0.8, 0.9], [0.7, 0.95]]}``.
        title: Figure title.
    """
    import numpy as np

    plt = _pyplot()
    names = list(groups)
    n_layers = max(len(run) for runs in groups.values() for run in runs)
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * n_layers * len(names) / 2, 3.2))
    width = 0.8 / max(len(names), 1)
    for g, name in enumerate(names):
        values = np.array(groups[name], dtype=float)
        mean, std = values.mean(axis=0), values.std(axis=0)
        positions = np.arange(values.shape[1]) + (g - (len(names) - 1) / 2) * width
        ax.bar(positions, mean, width, yerr=std if values.shape[0] > 1 else None, capsize=3, label=name)
    ax.set_xticks(range(n_layers), [f"layer {k}" for k in range(n_layers)])
    ax.set_ylim(0, 1)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_ylabel("equivariant share (prior variance)")
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return _png(fig)


def plot_evidence(histories: Mapping[str, tuple[Sequence[int], Sequence[float]]], title: str = "") -> bytes:
    """Log marginal likelihood over the marglik steps of several networks.

    Args:
        histories: name -> (epochs, log marginal likelihoods).
        title: Figure title.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for name, (epochs, values) in histories.items():
        ax.plot(list(epochs), list(values), marker="o", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("log marginal likelihood")
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return _png(fig)
