"""Mini-batch MAP objective of online marginal-likelihood training.

With prior theta ~ N(0, P0^-1), P0 = diag(p0), and the CURRENT hyperparameters held
fixed, the network weights minimise the negative log joint divided by N,

    -log p(D | theta) / N + theta^T P0 theta / (2 N),

estimated without bias on a mini-batch D_b by ``-log p(D_b | theta) / |D_b| +
theta^T P0 theta / (2 N)`` (the sum-normalisation of Immer et al. 2021's code, but with
the exact Gaussian log-likelihood instead of an MSE rescaled by 2 sigma^2, so the value
is comparable across sigma).
"""

from __future__ import annotations


from torch import Tensor

from bdl_core.likelihood import Likelihood


def batch_negative_log_likelihood(f: Tensor, y: Tensor, likelihood: str,
                                  sigma_noise: Tensor | float = 1.0) -> Tensor:
    """Summed -log p(y | f) over a batch, normalisation constants included.

    Args:
        f: (B, C) network outputs (logits for classification).
        y: (B, C) or (B,) regression targets (reshaped to f), or (B,) class indices.
        likelihood: ``"regression"`` (Gaussian with std ``sigma_noise``) or
            ``"classification"`` (softmax cross-entropy).
        sigma_noise: () or float noise std (regression only).

    Returns:
        () tensor, differentiable w.r.t. f (and sigma_noise).
    """
    return Likelihood.of(likelihood).negative_log_likelihood(f, y, sigma_noise)


def map_objective(f: Tensor, y: Tensor, theta: Tensor, prior_diagonal: Tensor, n_data: int,
                  likelihood: str, sigma_noise: Tensor | float = 1.0) -> Tensor:
    """Mini-batch estimate of the negative log joint divided by N.

    Args:
        f: (B, C) outputs of the batch.
        y: Targets of the batch (see :func:`batch_negative_log_likelihood`).
        theta: (P,) parameters the prior is over (differentiable).
        prior_diagonal: (P,) prior precisions (treated as constants by the caller).
        n_data: N, the size of the whole training set.
        likelihood: ``"regression"`` or ``"classification"``.
        sigma_noise: () or float noise std (regression).

    Returns:
        () ``-log p(D_b | theta) / B + theta^T P0 theta / (2 N)``.
    """
    nll = batch_negative_log_likelihood(f, y, likelihood, sigma_noise) / f.shape[0]
    return nll + 0.5 * (prior_diagonal * theta.pow(2)).sum() / n_data
