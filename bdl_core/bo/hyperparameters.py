"""Hyperparameters of the LLA surrogate and their function-space marginal likelihood.

The hyperparameters are the prior precisions of the network's parameter tensors (one
shared value, ``"scalar"``, or one per tensor, ``"layerwise"``, exactly as
``bdl_core.priors.PriorPrecision``) and the Gaussian noise sigma, all in standardised
output units and stored as logs.

The Laplace evidence with the GGN (Immer et al. 2021) in its function-space form is

    log p(D) ~= -n/2 log(2 pi sigma^2) - SSE / (2 sigma^2)
                - 1/2 [log det(I + K / sigma^2) + sum_g p_g ||theta_g - mu_g||^2],

with K = sum_g G_g / p_g the NTK Gram matrix of the training inputs and G_g the Gram
blocks of parameter tensor g (``tangent_mlp.gram_blocks``) and mu the prior mean (zero, or
the network's initialisation, see ``lla_fit``). Given the blocks, one
evaluation is one n x n Cholesky, so tuning costs milliseconds for n in the hundreds,
instead of the n^2 P kernel rebuild per step that ``bdl_core.laplace.FunctionPrecision``
does (it must support any prior). The tests check that both give the same value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

PRIORS = ("scalar", "layerwise")


@dataclass(frozen=True)
class LLAHyperparameters:
    """Log prior precisions and log noise standard deviation (standardised units).

    Attributes:
        log_prior: (1,) for a scalar prior or (G,) for one precision per parameter tensor.
        log_sigma: () log noise standard deviation.
    """

    log_prior: Tensor
    log_sigma: Tensor

    @classmethod
    def initial(cls, prior: str, n_groups: int, precision: float, sigma: float,
                dtype: torch.dtype, device: torch.device | None = None) -> LLAHyperparameters:
        """Every prior precision ``precision`` and noise sd ``sigma``."""
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        size = 1 if prior == "scalar" else n_groups
        return cls(torch.full((size,), math.log(precision), dtype=dtype, device=device),
                   torch.tensor(math.log(sigma), dtype=dtype, device=device))

    def precisions(self, n_groups: int) -> Tensor:
        """(G,) prior precision of every parameter tensor."""
        return self.log_prior.exp().expand(n_groups)

    @property
    def sigma(self) -> Tensor:
        """() noise standard deviation."""
        return self.log_sigma.exp()


def function_space_log_evidence(grams: Tensor, sse: Tensor, theta_sq: Tensor, log_prior: Tensor,
                                log_sigma: Tensor) -> Tensor:
    """Laplace-GGN log marginal likelihood in function-space form (see module docstring).

    Args:
        grams: (G, n, n) Gram blocks J_g J_g^T at the training inputs.
        sse: () sum of squared residuals of the network at theta.
        theta_sq: (G,) squared distance of each parameter tensor from its prior mean.
        log_prior: (1,) or (G,) log prior precisions (differentiable).
        log_sigma: () log noise sd (differentiable).

    Returns:
        () log evidence.
    """
    n = grams.shape[-1]
    precision = log_prior.exp().expand(grams.shape[0])
    kernel = torch.einsum("g,gij->ij", precision.reciprocal(), grams)
    sigma2 = (2.0 * log_sigma).exp()
    eye = torch.eye(n, dtype=grams.dtype, device=grams.device)
    chol = torch.linalg.cholesky(kernel + sigma2 * eye)
    logdet_ratio = 2.0 * chol.diagonal().log().sum() - n * 2.0 * log_sigma
    log_lik = -0.5 * n * math.log(2.0 * math.pi) - n * log_sigma - 0.5 * sse / sigma2
    return log_lik - 0.5 * (logdet_ratio + (precision * theta_sq).sum())


def maximise_evidence(evidence: Callable[[Tensor, Tensor], Tensor], hypers: LLAHyperparameters,
                      n_steps: int, lr: float, min_sigma: float) -> LLAHyperparameters:
    """Adam on the log hyperparameters maximising ``evidence(log_prior, log_sigma)``.

    Args:
        evidence: () log evidence, differentiable in both log hyperparameters.
        hypers: starting point.
        n_steps: Adam steps.
        lr: Adam learning rate on the logs.
        min_sigma: noise floor: log sigma is projected onto [log min_sigma, inf).

    Returns:
        The tuned hyperparameters (detached).
    """
    floor = math.log(min_sigma)
    log_prior = hypers.log_prior.detach().clone().requires_grad_(True)
    log_sigma = hypers.log_sigma.detach().clamp(min=floor).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([log_prior, log_sigma], lr=lr)
    with torch.enable_grad():
        for _ in range(n_steps):
            optimizer.zero_grad()
            (-evidence(log_prior, log_sigma)).backward()
            optimizer.step()
            with torch.no_grad():
                log_sigma.clamp_(min=floor)
                log_prior.clamp_(-12.0, 12.0)
    return LLAHyperparameters(log_prior.detach(), log_sigma.detach())


def tune_function_space(grams: Tensor, sse: Tensor, theta_sq: Tensor, hypers: LLAHyperparameters,
                        n_steps: int, lr: float, min_sigma: float) -> LLAHyperparameters:
    """:func:`maximise_evidence` of :func:`function_space_log_evidence` (fixed network).

    Args:
        grams, sse, theta_sq: as in :func:`function_space_log_evidence`.
        hypers, n_steps, lr, min_sigma: as in :func:`maximise_evidence`.
    """
    grams, sse, theta_sq = grams.detach(), sse.detach(), theta_sq.detach()

    def evidence(log_prior: Tensor, log_sigma: Tensor) -> Tensor:
        return function_space_log_evidence(grams, sse, theta_sq, log_prior, log_sigma)

    return maximise_evidence(evidence, hypers, n_steps, lr, min_sigma)
