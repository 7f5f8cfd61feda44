"""Stochastic lower bounds on the linearised-Laplace marginal likelihood (Immer et al. 2023).

With the GGN, the Laplace evidence of a network at its MAP theta* is exactly the
evidence of a GP with the prior NTK kernel K = J P0^-1 J^T (N*C x N*C):

    log p(D) ~= log p(D | theta*) - 1/2 theta*^T P0 theta* - 1/2 log det M,
    M = I + Lambda^1/2 K Lambda^1/2 / sigma^2      (Lambda = blockdiag_n Lambda_n)

where Lambda_n is the output Hessian of -log p(y_n | f_n) (identity for regression,
diag(p_n) - p_n p_n^T for classification). M is positive definite, so by Fischer's
inequality log det M <= sum_b log det M_bb for ANY partition of its rows into blocks:
replacing the Occam term by the block sum can only LOWER the estimate. Two partitions
are implemented (``mode``):

* ``"batch"``: blocks are data mini-batches (all C outputs of B examples together,
  a (B*C, B*C) block each). With one batch holding all data it is the exact value.
* ``"output"``: blocks are (mini-batch, output) pairs, (B, B) each, so the cost no
  longer grows with C^2. For classification, Lambda_n is first replaced by its
  Loewner upper bound diag(p_n) (diag(p) - p p^T <= diag(p)), which makes the Occam
  term larger again, then the blocks are split by class; regression (Lambda = I) needs
  only the split. For a single output (C = 1) both modes coincide.

Every value returned here is therefore <= the full-batch function-space evidence
(Fischer; tested), and differentiable w.r.t. the prior precisions and sigma. Hand
written because the paper's code builds on a fork of laplace-torch/ASDL; here the
Jacobians come from :func:`bdl_core.curvature.jacobians`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from bdl_core.curvature import ParameterLayout, jacobians, output_hessian_sqrt
from bdl_core.likelihood import Likelihood

from .map_objective import batch_negative_log_likelihood

if TYPE_CHECKING:
    from bdl_core.laplace import LaplacePosterior as Laplace

MODES = ("batch", "output")


def partition_indices(n: int, batch_size: int, shuffle: bool = True,
                      generator: torch.Generator | None = None) -> list[Tensor]:
    """Split ``range(n)`` into consecutive mini-batches (of a random permutation if ``shuffle``).

    Args:
        n: Number of examples N.
        batch_size: B, examples per block (the last block may be smaller).
        shuffle: Permute the examples before splitting.
        generator: Random generator for the permutation (CPU).

    Returns:
        List of (B_k,) long index tensors that together hold every index once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    return list(order.split(batch_size))


def block_log_determinant(model: nn.Module, layout: ParameterLayout, likelihood: str, X: Tensor,
                          prior_diagonal: Tensor, curvature_scale: Tensor | float,
                          mode: str = "batch") -> tuple[Tensor, Tensor]:
    """Outputs and the summed log det of the diagonal blocks of M for one mini-batch.

    Args:
        model: Network at theta*, mapping (B, *in_shape) to (B, C).
        layout: Parameters the prior is over.
        likelihood: ``"regression"`` or ``"classification"``.
        X: (B, *in_shape) inputs of the mini-batch.
        prior_diagonal: (P,) prior precisions (differentiable).
        curvature_scale: () or float, 1 / sigma^2 (regression) or 1 (differentiable).
        mode: ``"batch"``: log det of the (B*C, B*C) block; ``"output"``: sum over the C
            (B, B) per-output blocks (classification with Lambda_n -> diag(p_n)).

    Returns:
        f: (B, C) outputs at theta* (detached).
        logdet: () summed log-determinant (>= the exact block's for ``"output"``).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    with torch.no_grad():
        f, J = jacobians(model, X.detach(), layout)  # (B, C), (B, C, P)
        b, c, p = J.shape
        if mode == "batch":
            rows = (output_hessian_sqrt(f, likelihood).mT @ J).reshape(1, b * c, p)
        elif not Likelihood.of(likelihood).is_regression:
            rows = (J * torch.softmax(f, dim=-1).sqrt().unsqueeze(-1)).transpose(0, 1)
        else:
            rows = J.transpose(0, 1)  # (C, B, P)
    gram = (rows / prior_diagonal) @ rows.mT  # (blocks, size, size)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    chol = torch.linalg.cholesky(eye + curvature_scale * gram)
    return f, 2.0 * chol.diagonal(dim1=-2, dim2=-1).log().sum()


def _hyperparameters(la: Laplace, prior_precision: float | Tensor | None,
                     sigma_noise: float | Tensor | None) -> tuple[Tensor, Tensor]:
    """(P,) prior diagonal and () sigma of ``la`` (stored, or the given values), differentiable."""
    prior_diagonal = la.prior_diagonal(prior_precision)
    if sigma_noise is None or not la.likelihood.is_regression:
        sigma = la.log_sigma_noise.exp() if la.likelihood.is_regression else prior_diagonal.new_ones(())
    else:
        sigma = torch.as_tensor(sigma_noise, dtype=prior_diagonal.dtype, device=prior_diagonal.device)
    return prior_diagonal, sigma


def _map_parameters(la: Laplace) -> Tensor:
    """(P,) theta*; raises if the network moved away from the fitted MAP."""
    theta = la.layout.vector()
    if la.theta_map is not None and not torch.equal(theta, la.theta_map):
        raise ValueError("The model's parameters changed since Laplace.fit(); refit first.")
    return theta


def stochastic_log_marginal_likelihood(
    la: Laplace,
    X: Tensor,
    y: Tensor,
    batch_size: int,
    mode: str = "batch",
    generator: torch.Generator | None = None,
    shuffle: bool = True,
    prior_precision: float | Tensor | None = None,
    sigma_noise: float | Tensor | None = None,
) -> Tensor:
    """Partition lower bound on the function-space Laplace log marginal likelihood.

    The data are split into mini-batches (a random partition); the Occam term
    log det M is replaced by the sum of its diagonal blocks (see the module docstring).

    Args:
        la: A :class:`~bdl_core.laplace.Laplace` (any structure; its model, likelihood,
            parameter subset and prior structure are used, the network must still be at
            the fitted MAP). Its curvature is NOT used: the bound is in function space.
        X: (N, *in_shape) training inputs.
        y: (N, C) regression targets or (N,) class indices.
        batch_size: B, examples per block (``B >= N``: one block, the exact evidence in
            ``"batch"`` mode).
        mode: ``"batch"`` or ``"output"``.
        generator: Random generator for the partition.
        shuffle: Randomly permute before splitting (else consecutive blocks).
        prior_precision: None (``la``'s stored prior, differentiable w.r.t.
            ``la.prior.log_precision``) or values as for ``Laplace.log_marginal_likelihood``.
        sigma_noise: None (``la.log_sigma_noise``) or a () / float std (regression).

    Returns:
        () lower bound on log p(D | hyperparameters), differentiable w.r.t. the prior
        precisions and sigma.
    """
    prior_diagonal, sigma = _hyperparameters(la, prior_precision, sigma_noise)
    theta = _map_parameters(la)
    scale = sigma.pow(-2) if la.likelihood.is_regression else 1.0
    device = theta.device
    X = X.to(device=device, dtype=theta.dtype) if X.is_floating_point() else X.to(device)
    y = y.to(device)
    nll = prior_diagonal.new_zeros(())
    logdet = prior_diagonal.new_zeros(())
    was_training = la.model.training
    la.model.eval()
    try:
        for idx in partition_indices(X.shape[0], batch_size, shuffle, generator):
            idx = idx.to(device)
            f, block = block_log_determinant(la.model, la.layout, la.likelihood, X[idx],
                                             prior_diagonal, scale, mode)
            nll = nll + batch_negative_log_likelihood(f, y[idx], la.likelihood, sigma)
            logdet = logdet + block
    finally:
        la.model.train(was_training)
    scatter = (prior_diagonal * theta.pow(2)).sum()
    return -nll - 0.5 * (logdet + scatter)
