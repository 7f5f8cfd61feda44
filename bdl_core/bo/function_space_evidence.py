"""The Laplace-GGN evidence of the LLA surrogates in function-space form (one or several outputs).

The hyperparameters (:class:`bdl_core.hyperparameters.Hyperparameters`) are the prior
precisions of the network's parameter tensors (one shared value, ``"scalar"``, or one per
tensor, ``"layerwise"``) and the Gaussian noise sd, one per output, all in standardised
output units and stored as logs.

The Laplace evidence with the GGN (Immer et al. 2021) in its function-space form is

    log p(D) ~= sum_k [-n/2 log(2 pi sigma_k^2) - SSE_k / (2 sigma_k^2)]
                - 1/2 [log det(I + S^-1/2 K S^-1/2) + sum_g p_g ||theta_g - mu_g||^2],

with ``S`` the noise variances of the n m training outputs, K = sum_g G_g / p_g the NTK Gram
matrix of the training outputs and G_g the Gram blocks of parameter tensor g
(``tangent_mlp.gram_blocks``, or ``multi_output_mlp.multi_gram_blocks`` with the outputs
interleaved) and mu the prior mean (zero, or the network's initialisation, see ``lla_fit``).
With m = 1 it is the single-output evidence. Given the blocks, one evaluation is one
(n m) x (n m) Cholesky, so tuning costs milliseconds for n in the hundreds, instead of the
n^2 P kernel rebuild per step that ``bdl_core.laplace.FunctionPrecision`` does (it must
support any prior). The tests check that both give the same value.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bdl_core.hyperparameters import Hyperparameters
from bdl_core.laplace.hyperparameter_tuning import maximise_evidence
from bdl_core.likelihood import gaussian_log_likelihood

LOG_PRIOR_BOUNDS = (-12.0, 12.0)


def squared_offsets(params: list[Tensor], prior_mean: list[Tensor] | None) -> Tensor:
    """(G,) ||theta_g - mu_g||^2 of every parameter tensor (detached; mu = 0 without a prior mean).

    Args:
        params: G parameter tensors.
        prior_mean: G tensors of the same shapes, or None.
    """
    means = prior_mean if prior_mean is not None else [None] * len(params)
    return torch.stack([(p.detach() if mu is None else p.detach() - mu).pow(2).sum() for p, mu in zip(params, means)])


def function_space_log_evidence(grams: Tensor, sse: Tensor, theta_sq: Tensor, log_prior: Tensor,
                                log_sigma: Tensor) -> Tensor:
    """Laplace-GGN log marginal likelihood in function-space form (see module docstring).

    Args:
        grams: (G, n m, n m) Gram blocks at the training inputs (points outer, outputs inner).
        sse: () (one output) or (m,) sum of squared residuals per output at theta.
        theta_sq: (G,) squared distance of each parameter tensor from its prior mean.
        log_prior: (1,) or (G,) log prior precisions (differentiable).
        log_sigma: () or (m,) log noise sds (differentiable), the shape of ``sse``.

    Returns:
        () log evidence.
    """
    m = max(sse.numel(), 1)
    n = grams.shape[-1] // m
    precision = log_prior.exp().expand(grams.shape[0])
    kernel = torch.einsum("g,gij->ij", precision.reciprocal(), grams)
    variance = (2.0 * log_sigma).exp()
    chol = torch.linalg.cholesky(kernel + torch.diag(variance.reshape(-1).repeat(n)))  # interleaved order
    logdet_ratio = 2.0 * chol.diagonal().log().sum() - 2.0 * n * log_sigma.sum()
    log_lik = gaussian_log_likelihood(sse, variance, n).sum()
    return log_lik - 0.5 * (logdet_ratio + (precision * theta_sq).sum())


def tune_function_space(grams: Tensor, sse: Tensor, theta_sq: Tensor, hypers: Hyperparameters,
                        n_steps: int, lr: float, min_sigma: float) -> Hyperparameters:
    """:func:`~bdl_core.laplace.hyperparameter_tuning.maximise_evidence` of
    :func:`function_space_log_evidence` at a fixed network.

    Args:
        grams, sse, theta_sq: as in :func:`function_space_log_evidence`.
        hypers: starting point (not changed).
        n_steps: Adam steps; lr: Adam learning rate on the logs.
        min_sigma: noise floor: log sigma is projected onto [log min_sigma, inf).

    Returns:
        The tuned hyperparameters (a new object).
    """
    grams, sse, theta_sq = grams.detach(), sse.detach(), theta_sq.detach()
    tuned = hypers.clone()

    def evidence() -> Tensor:
        return function_space_log_evidence(grams, sse, theta_sq, tuned.log_prior, tuned.log_sigma)

    maximise_evidence(evidence, tuned, n_steps, lr, learn_sigma=True, floor=min_sigma,
                      prior_bounds=LOG_PRIOR_BOUNDS, record=False)
    return tuned
