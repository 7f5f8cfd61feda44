"""Held-out metrics of predictive distributions (the one place they are defined).

Classifiers: negative log-likelihood, accuracy, AUROC (binary scores), expected calibration
error (top-label, equal-width confidence bins as in Guo et al. 2017 and Laplace Redux) and the
reliability curve behind it. Regression: Gaussian negative log density and RMSE.
Written here because the metrics are a few lines of tensor code and the libraries that
carry them (torchmetrics, netcal) would add a dependency to a pure-PyTorch core.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .likelihood import gaussian_log_likelihood


def _check(probs: Tensor, labels: Tensor) -> None:
    if probs.dim() != 2:
        raise ValueError(f"probs must be (N, C), got shape {tuple(probs.shape)}.")
    if labels.shape != probs.shape[:1]:
        raise ValueError(f"labels must be ({probs.shape[0]},), got shape {tuple(labels.shape)}.")


def negative_log_likelihoods(probs: Tensor, labels: Tensor) -> Tensor:
    """(N,) per-example ``-log p(label)`` (a probability of 0 counts as the dtype's smallest normal number).

    Args:
        probs: (N, C) predictive class probabilities.
        labels: (N,) class indices.
    """
    _check(probs, labels)
    picked = probs.gather(1, labels.long().to(probs.device).reshape(-1, 1)).squeeze(1)
    return -picked.clamp_min(torch.finfo(probs.dtype).tiny).log()


def negative_log_likelihood(probs: Tensor, labels: Tensor) -> float:
    """Mean ``-log p(label)`` over the examples.

    Args:
        probs: (N, C) predictive class probabilities.
        labels: (N,) class indices.

    Returns:
        The mean NLL in nats (a probability of 0 counts as the dtype's smallest normal
        number, so the result stays finite).
    """
    return float(negative_log_likelihoods(probs, labels).mean())


@dataclass(frozen=True)
class ReliabilityCurve:
    """Per-bin statistics of the top-label confidence.

    Attributes:
        edges: (B+1,) bin edges on [0, 1]; bin b is (edges[b], edges[b+1]].
        confidence: (B,) mean confidence of the examples in each bin (NaN if empty).
        accuracy: (B,) fraction of them classified correctly (NaN if empty).
        count: (B,) number of examples in each bin.
    """

    edges: Tensor
    confidence: Tensor
    accuracy: Tensor
    count: Tensor

    @property
    def expected_calibration_error(self) -> float:
        """sum_b count_b / N * |accuracy_b - confidence_b| over non-empty bins."""
        filled = self.count > 0
        weights = self.count[filled].to(self.confidence.dtype) / self.count.sum()
        gaps = (self.accuracy[filled] - self.confidence[filled]).abs()
        return float((weights * gaps).sum())


def reliability_curve(probs: Tensor, labels: Tensor, n_bins: int = 15) -> ReliabilityCurve:
    """Bin the examples by top-label confidence.

    Args:
        probs: (N, C) predictive class probabilities.
        labels: (N,) class indices.
        n_bins: Number B of equal-width bins on [0, 1].

    Returns:
        The :class:`ReliabilityCurve` with (B,) per-bin statistics.
    """
    _check(probs, labels)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}.")
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels.to(prediction.device)).to(probs.dtype)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=probs.dtype, device=probs.device)
    # bin b holds confidences in (edges[b], edges[b+1]]; a confidence of exactly 0 goes to bin 0
    index = (torch.bucketize(confidence, edges, right=False) - 1).clamp(0, n_bins - 1)
    count = torch.bincount(index, minlength=n_bins)
    safe = count.clamp_min(1).to(probs.dtype)
    nan = torch.full((n_bins,), float("nan"), dtype=probs.dtype, device=probs.device)
    mean_conf = torch.zeros(n_bins, dtype=probs.dtype, device=probs.device).index_add_(0, index, confidence) / safe
    mean_acc = torch.zeros(n_bins, dtype=probs.dtype, device=probs.device).index_add_(0, index, correct) / safe
    filled = count > 0
    return ReliabilityCurve(edges, torch.where(filled, mean_conf, nan), torch.where(filled, mean_acc, nan), count)


def expected_calibration_error(probs: Tensor, labels: Tensor, n_bins: int = 15) -> float:
    """Top-label ECE: sum_b |bin b| / N * |accuracy(b) - mean confidence(b)|.

    Args:
        probs: (N, C) predictive class probabilities.
        labels: (N,) class indices.
        n_bins: Number of equal-width confidence bins (15, as in Laplace Redux).

    Returns:
        The ECE, in [0, 1].
    """
    return reliability_curve(probs, labels, n_bins).expected_calibration_error


def gaussian_negative_log_likelihoods(mean: Tensor, variance: Tensor, y: Tensor) -> Tensor:
    """Per-entry negative log density of ``y`` under N(mean, variance) (same shape as ``mean``).

    Args:
        mean: (N,) or (N, C) predictive means.
        variance: Predictive variances (> 0) of the same shape, observation noise included.
        y: Targets of the same shape.
    """
    return -gaussian_log_likelihood((y - mean).pow(2), variance)


def gaussian_negative_log_likelihood(mean: Tensor, variance: Tensor, y: Tensor) -> float:
    """Mean negative log density of ``y`` under N(mean, variance).

    Args:
        mean: (N,) predictive means.
        variance: (N,) predictive variances (> 0), observation noise included.
        y: (N,) targets.
    """
    return float(gaussian_negative_log_likelihoods(mean, variance, y).mean())


def rmse(mean: Tensor, y: Tensor) -> float:
    """Root mean squared error of (N,) predictions ``mean`` against (N,) targets ``y``."""
    return float((mean - y).pow(2).mean().sqrt())


def accuracy(probs: Tensor, y: Tensor) -> float:
    """Share of the N rows of (N, C) ``probs`` whose most probable class is the (N,) label ``y``."""
    return float((probs.argmax(dim=1) == y.long()).to(probs.dtype).mean())


def auroc(scores: Tensor, labels: Tensor) -> float:
    """Area under the ROC curve: P(score of a random positive > that of a random negative), ties half.

    Args:
        scores: (N,) scores of the positive class.
        labels: (N,) labels in {0, 1}.

    Returns:
        The AUROC in [0, 1] (NaN when one class is absent).
    """
    ranks = torch.empty_like(scores, dtype=torch.float64)
    order = scores.argsort()
    ranks[order] = torch.arange(1, scores.numel() + 1, dtype=torch.float64, device=scores.device)
    for value in scores.unique():  # average ranks of ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    positive = labels.bool()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
