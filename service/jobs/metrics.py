"""Held-out metrics of predictive distributions: NLL, accuracy, RMSE and expected calibration error.

The definitions reported in job results: means over test points, natural logarithms, ECE with
15 equal-width, right-closed confidence bins. The classification NLL and the ECE are
``bdl_core.calibration``'s, so job results and the core's benchmarks use one definition.
"""

from __future__ import annotations

import math

from torch import Tensor

from bdl_core.calibration import expected_calibration_error
from bdl_core.calibration import negative_log_likelihood as categorical_nll

__all__ = ["accuracy", "categorical_nll", "expected_calibration_error", "gaussian_nll", "rmse"]


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


def accuracy(probs: Tensor, y: Tensor) -> float:
    """Share of the N rows of (N, C) ``probs`` whose most probable class is the (N,) label ``y``."""
    return float((probs.argmax(dim=1) == y.long()).to(probs.dtype).mean())
