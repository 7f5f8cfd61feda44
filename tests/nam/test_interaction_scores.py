"""The marginal-likelihood interaction score against closed-form Bayesian linear regression (float64)."""

from __future__ import annotations

import math

import torch

from bdl_core.nam.interactions import interaction_evidence_gain


def _log_evidence(y: torch.Tensor, design: torch.Tensor, prior_precisions: torch.Tensor, sigma: float) -> torch.Tensor:
    """log N(y | 0, sigma^2 I + design diag(1 / prior) design^T)."""
    cov = sigma**2 * torch.eye(y.numel(), dtype=y.dtype) + design @ torch.diag(1 / prior_precisions) @ design.T
    return torch.distributions.MultivariateNormal(torch.zeros_like(y), cov).log_prob(y)


def test_gain_equals_the_exact_log_evidence_ratio_for_a_gaussian_likelihood() -> None:
    g = torch.Generator().manual_seed(0)
    n, K, k, sigma, delta = 40, 4, 3, 0.5, 0.7
    Phi = torch.cat([torch.ones(n, 1, dtype=torch.float64), torch.randn(n, K - 1, generator=g, dtype=torch.float64)], 1)
    Z = torch.randn(n, k, generator=g, dtype=torch.float64)
    Z = Z - Z.mean(0)  # the score centres its regressors
    y = Phi @ torch.randn(K, generator=g, dtype=torch.float64) + Z @ torch.randn(k, generator=g, dtype=torch.float64)
    y = y + sigma * torch.randn(n, generator=g, dtype=torch.float64)
    theta0 = torch.randn(K, generator=g, dtype=torch.float64)  # any expansion point: the model is linear
    s = torch.tensor(sigma**-2, dtype=torch.float64)
    lam = torch.ones(n, dtype=torch.float64)
    P = s * Phi.T @ Phi + delta * torch.eye(K, dtype=torch.float64)
    r = y - Phi @ theta0
    g_theta = s * Phi.T @ r - delta * theta0
    alphas = torch.tensor([0.1, 1.0, 10.0], dtype=torch.float64)
    gains = interaction_evidence_gain(Z, Phi, lam, r, s, torch.linalg.cholesky(P), g_theta, alphas)
    small = _log_evidence(y, Phi, torch.full((K,), delta, dtype=torch.float64), sigma)
    for alpha, gain in zip(alphas, gains):
        big = _log_evidence(y, torch.cat([Phi, Z], 1),
                            torch.cat([torch.full((K,), delta), torch.full((k,), float(alpha))]).double(), sigma)
        torch.testing.assert_close(gain, big - small, rtol=1e-9, atol=1e-9)


def test_gain_is_near_zero_for_regressors_unrelated_to_the_residuals() -> None:
    g = torch.Generator().manual_seed(1)
    n = 2000
    Phi = torch.ones(n, 1, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    Z = torch.randn(n, 4, generator=g, dtype=torch.float64)
    s = torch.tensor(1.0, dtype=torch.float64)
    P = s * Phi.T @ Phi + torch.eye(1, dtype=torch.float64)
    gains = interaction_evidence_gain(Z, Phi, torch.ones(n, dtype=torch.float64), y, s, torch.linalg.cholesky(P),
                                      s * Phi.T @ y, torch.logspace(-4, 4, 33, dtype=torch.float64))
    assert float(gains.max()) < math.log(100.0)  # a Bayes factor below 100 for pure noise
    Z[:, 0] = y + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    gains = interaction_evidence_gain(Z, Phi, torch.ones(n, dtype=torch.float64), y, s, torch.linalg.cholesky(P),
                                      s * Phi.T @ y, torch.logspace(-4, 4, 33, dtype=torch.float64))
    assert float(gains.max()) > 100.0
