"""PNG artifacts of the Laplace-based kinds: reliability diagrams and evidence histories.

matplotlib (Agg back end) is imported inside each function (``bdl_core.figures``), so importing this
module draws nothing and needs no display.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from bdl_core.calibration import reliability_curve
from bdl_core.figures import png_bytes, pyplot


def reliability_png(predictives: dict[str, torch.Tensor], labels: torch.Tensor, n_bins: int = 15) -> bytes:
    """Reliability diagram: accuracy against mean confidence per bin, one line per predictive.

    Args:
        predictives: name -> (N, C) class probabilities on the held-out rows.
        labels: (N,) class indices.
        n_bins: Equal-width confidence bins.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    for name, probs in predictives.items():
        curve = reliability_curve(probs.detach().cpu().double(), labels.detach().cpu(), n_bins)
        filled = curve.count > 0
        ax.plot(curve.confidence[filled].tolist(), curve.accuracy[filled].tolist(), marker="o",
                label=f"{name} (ECE {curve.expected_calibration_error:.3f})")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("held-out reliability")
    ax.legend(loc="upper left", fontsize=8)
    return png_bytes(fig, dpi=100)


def evidence_png(histories: dict[str, tuple[Sequence[float], Sequence[float]]], xlabel: str) -> bytes:
    """Log marginal likelihood against epoch (or tuning step), one line per run.

    Args:
        histories: name -> (x values, log marginal likelihoods).
        xlabel: Label of the x axis.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, (xs, ys) in histories.items():
        ax.plot(list(xs), list(ys), marker="." if len(xs) < 50 else None, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("log marginal likelihood")
    ax.set_title("evidence history")
    if len(histories) > 1:
        ax.legend(fontsize=8)
    return png_bytes(fig, dpi=100)


def save_reliability(context: Any, network: torch.nn.Module, la: Any, *, link: str, n_bins: int) -> str:
    """Write ``reliability.png`` (MAP network and Laplace predictive on the test split); returns its name."""
    data = context.data
    with torch.no_grad():
        network.eval()
        predictives = {"MAP": torch.softmax(network(data.x_test), dim=-1), "Laplace": la.predict(data.x_test, link=link)}
    content = reliability_png(predictives, data.y_test, n_bins)
    return context.artifacts.save_bytes("reliability.png", content, "image/png").name
