"""Scalar-output likelihoods of the additive model: Gaussian regression and Bernoulli (logistic).

``bdl_core.curvature.likelihoods`` covers unit-noise Gaussian and softmax-categorical outputs
with (N, C) logits. A binary NAM has ONE logit per example, so its Bernoulli negative
output Hessian p (1 - p) and residual y - p are written out here; they equal the softmax ones
for the logits (0, f). Its negative log-likelihood is :meth:`bdl_core.likelihood.Likelihood.negative_log_likelihood`
of (N,) outputs.
"""

from __future__ import annotations


import torch
from torch import Tensor

from bdl_core.likelihood import check_likelihood


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
    return torch.as_tensor(check_likelihood(likelihood).curvature_scale(sigma), dtype=sigma.dtype, device=sigma.device)
