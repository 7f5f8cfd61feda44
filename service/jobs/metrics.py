"""Held-out metrics of predictive distributions: NLL, accuracy, RMSE and expected calibration error.

Written out here (a few lines each) so that the definitions reported in job results are explicit:
means over test points, natural logarithms, ECE with equal-width confidence bins.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def gaussian_nll(mean: Tensor, variance: Tensor, y: Tensor) -> float:
    """Mean negative log density of ``y`` under N(mean, variance).

    Args:
        mean: (N,) predictive means.
        variance: (N,) predictive variances (> 0), observation noise included.
        y: (N,) targets.
    """
    return float((0.5 * (math.log(2 * math.pi) + variance.log() + (y - mean).pow(2) / variance)).mean())


def rmse(mean: Tensor, y: Tensor) -> float:
    """Root mean squared error of (N,) predictions ``mean`` against (N,) targets ``y``."""
    return float((mean - y).pow(2).mean().sqrt())


def categorical_nll(probs: Tensor, y: Tensor) -> float:
    """Mean negative log probability of the true class.

    Args:
        probs: (N, C) class probabilities (rows sum to 1).
        y: (N,) class indices.
    """
    tiny = torch.finfo(probs.dtype).tiny
    picked = probs.gather(1, y.long().reshape(-1, 1)).squeeze(1)
    return float(-picked.clamp_min(tiny).log().mean())


def accuracy(probs: Tensor, y: Tensor) -> float:
    """Share of the N rows of (N, C) ``probs`` whose most probable class is the (N,) label ``y``."""
    return float((probs.argmax(dim=1) == y.long()).to(probs.dtype).mean())


def expected_calibration_error(probs: Tensor, y: Tensor, n_bins: int = 15) -> float:
    """ECE: sum over equal-width confidence bins of (bin share) * |accuracy - mean confidence|.

    Args:
        probs: (N, C) class probabilities.
        y: (N,) class indices.
        n_bins: bins on [0, 1]; bin b holds confidences in (b/n, (b+1)/n] (the first also holds 0).
    """
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == y.long()).to(probs.dtype)
    bins = (confidence * n_bins).ceil().long().clamp(1, n_bins) - 1
    total = torch.zeros((), dtype=probs.dtype, device=probs.device)
    for b in range(n_bins):
        members = bins == b
        if members.any():
            total = total + members.to(probs.dtype).mean() * (correct[members].mean() - confidence[members].mean()).abs()
    return float(total)
