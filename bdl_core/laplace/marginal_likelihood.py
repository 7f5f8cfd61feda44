"""Laplace approximation of the log marginal likelihood (evidence).

    log p(D | h) ~= log p(D | theta*) - 1/2 [log det P - log det P0 + theta*^T P0 theta*]

(MacKay 1992; Immer et al. 2021), with zero prior mean, P0 = diag(p0) and the
posterior precision P from any structure. It is differentiable w.r.t. the prior
precisions and sigma through ``log_likelihood`` and ``precision``.
"""

from __future__ import annotations

from torch import Tensor

from .precision import PosteriorPrecision, is_constant_view


def laplace_log_marginal_likelihood(
    log_likelihood: Tensor, precision: PosteriorPrecision, theta_map: Tensor
) -> Tensor:
    """Laplace evidence from its three ingredients.

    Args:
        log_likelihood: () log p(D | theta*) at the current sigma.
        precision: Posterior precision built from the same prior diagonal and sigma.
        theta_map: (P,) MAP parameters of the selected subset.

    Returns:
        () log marginal likelihood.
    """
    prior = precision.prior_diagonal
    if is_constant_view(prior):  # scalar prior: delta * |theta|^2
        scatter = theta_map.pow(2).sum() * prior[0]
    else:
        scatter = (theta_map.pow(2) * prior).sum()
    return log_likelihood - 0.5 * (precision.logdet_ratio() + scatter)
