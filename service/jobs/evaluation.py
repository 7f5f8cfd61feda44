"""Held-out evaluation of a MAP network and of a Laplace predictive, in the data's units."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from service.jobs import metrics
from service.jobs.data import DataSplits


def _regression(mean: torch.Tensor, variance: torch.Tensor, data: DataSplits) -> dict[str, float]:
    scale = data.y_std
    y = data.y_test[:, 0] * scale + data.y_mean
    mean = mean[:, 0] * scale + data.y_mean
    variance = variance[:, 0] * scale**2
    return {"nll": metrics.gaussian_nll(mean, variance, y), "rmse": metrics.rmse(mean, y)}


def _classification(probs: torch.Tensor, data: DataSplits, n_bins: int) -> dict[str, float]:
    return {"nll": metrics.categorical_nll(probs, data.y_test), "accuracy": metrics.accuracy(probs, data.y_test),
            "ece": metrics.expected_calibration_error(probs, data.y_test, n_bins)}


@torch.no_grad()
def map_predictive(network: nn.Module, data: DataSplits, x: torch.Tensor, task: str
                   ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The point-estimate network's predictive at the (R, D) rows ``x`` (standardised units).

    Classification: (R, C) probabilities softmax(f). Regression: (R, 1) mean f and (R, 1) variance
    s^2, the mean squared training residual (the maximum-likelihood noise).
    """
    network.eval()
    if task == "classification":
        return torch.softmax(network(x), dim=-1)
    noise = (network(data.x_train) - data.y_train).pow(2).mean()
    mean = network(x)
    return mean, noise.expand_as(mean)


@torch.no_grad()
def map_metrics(network: nn.Module, data: DataSplits, task: str, *, ece_bins: int = 15) -> dict[str, float]:
    """Test metrics of the point-estimate network's predictive (:func:`map_predictive`).

    Classification: NLL, accuracy and ECE. Regression: RMSE and the Gaussian NLL.
    """
    predictive = map_predictive(network, data, data.x_test, task)
    if task == "classification":
        return _classification(predictive, data, ece_bins)
    return _regression(*predictive, data)


def laplace_metrics(la: Any, data: DataSplits, task: str, *, ece_bins: int = 15, link: str = "probit"
                    ) -> dict[str, float]:
    """Test metrics of the linearised Laplace predictive (``la``: a fitted bdl_core Laplace).

    Classification: probit (or MC) class probabilities. Regression: the GLM predictive with the
    observation noise sigma^2 added.
    """
    with torch.no_grad():
        if task == "classification":
            return _classification(la.predict(data.x_test, link=link), data, ece_bins)
        mean, variance = la.predict(data.x_test, observation_noise=True)
        return _regression(mean, variance, data)


#: Most prior precisions listed one by one in a result; more are summarised.
MAX_LISTED_PRIOR_VALUES = 64


def prior_summary(prior_precision: torch.Tensor) -> float | list[float] | dict[str, float]:
    """A JSON-sized report of (n_hyper,) prior precisions: the value for a scalar prior, the list for
    up to :data:`MAX_LISTED_PRIOR_VALUES` values, else their count, mean, min and max."""
    values = prior_precision.detach().reshape(-1)
    if prior_precision.ndim == 0:
        return float(values[0])
    if values.numel() <= MAX_LISTED_PRIOR_VALUES:
        return values.tolist()
    return {"n": int(values.numel()), "mean": float(values.mean()), "min": float(values.min()),
            "max": float(values.max())}
