"""Scalar-output likelihoods of the additive model: Gaussian regression and Bernoulli (logistic).

``bdl_core.curvature.likelihoods`` covers unit-noise Gaussian and softmax-categorical outputs
with (N, C) logits. A binary NAM has ONE logit per example, so its Bernoulli negative
log-likelihood, output Hessian p (1 - p) and residual y - p are written out here; they equal
the softmax ones for the logits (0, f).
"""

from __future__ import annotations


import torch
from torch import Tensor
from torch.nn import functional as F

from bdl_core.likelihood import check_likelihood, gaussian_log_likelihood


def negative_log_likelihood(f: Tensor, y: Tensor, likelihood: str, sigma: Tensor | float = 1.0) -> Tensor:
    """Summed -log p(y | f) over the examples, normalisation constants included.

    Args:
        f: (N,) predictions (mean or logit).
        y: (N,) targets (real values, or labels in {0, 1}).
        likelihood: ``"regression"`` (Gaussian with std ``sigma``) or ``"classification"``.
        sigma: () noise std (regression; differentiable).

    Returns:
        () tensor.
    """
    likelihood = check_likelihood(likelihood)
    y = y.reshape(f.shape).to(f.dtype)
    if not likelihood.is_regression:
        return F.binary_cross_entropy_with_logits(f, y, reduction="sum")
    sigma = torch.as_tensor(sigma, dtype=f.dtype, device=f.device)
    return -gaussian_log_likelihood((y - f).pow(2).sum(), sigma.pow(2), f.numel())


def output_hessian(f: Tensor, likelihood: str) -> Tensor:
    """Second derivative of -log p(y | f) in f, with UNIT noise for regression.

    Args:
        f: (N,) predictions.
        likelihood: ``"regression"`` (ones; the posterior scales by 1 / sigma^2) or
            ``"classification"`` (p (1 - p) with p = sigmoid(f)).

    Returns:
        (N,) tensor.
    """
    likelihood = check_likelihood(likelihood)
    if likelihood.is_regression:
        return torch.ones_like(f)
    p = torch.sigmoid(f)
    return p * (1 - p)


def residual(f: Tensor, y: Tensor, likelihood: str) -> Tensor:
    """-d/df of -log p(y | f) with unit noise: y - f, or y - sigmoid(f).

    Args:
        f: (N,) predictions; y: (N,) targets.

    Returns:
        (N,) tensor.
    """
    likelihood = check_likelihood(likelihood)
    y = y.reshape(f.shape).to(f.dtype)
    return y - (f if likelihood.is_regression else torch.sigmoid(f))


def curvature_scale(likelihood: str, sigma: Tensor) -> Tensor:
    """Factor s multiplying the unit-noise curvature: 1 / sigma^2 (regression) or 1.

    Args:
        sigma: () noise std (ignored for classification).
    """
    if check_likelihood(likelihood).is_regression:
        return sigma.pow(-2)
    return torch.ones_like(sigma)
