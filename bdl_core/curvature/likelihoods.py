"""Output-space derivatives of the negative log-likelihood -log p(y | f).

Two likelihoods are supported:

* ``"regression"``: Gaussian with UNIT noise, -log p = 0.5 ||y - f||^2 + const.
  The posterior later rescales curvature by 1 / sigma^2.
* ``"classification"``: categorical with softmax link on logits f, y class indices.

These closed forms are tiny, so they are written out here rather than obtained
by differentiating a loss with autograd (which would cost C backward passes).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from bdl_core.likelihood import check_likelihood


def output_hessian(f: Tensor, likelihood: str) -> Tensor:
    """Hessian Lambda_n of -log p(y_n | f_n) w.r.t. the outputs f_n.

    Args:
        f: (N, C) network outputs (logits for classification).
        likelihood: ``"regression"`` (Lambda_n = I) or ``"classification"``
            (Lambda_n = diag(p_n) - p_n p_n^T with p_n = softmax(f_n)).

    Returns:
        (N, C, C) output Hessians, same dtype/device as ``f``.
    """
    likelihood = check_likelihood(likelihood)
    n, c = f.shape
    if likelihood.is_regression:
        return torch.eye(c, dtype=f.dtype, device=f.device).expand(n, c, c).clone()
    p = torch.softmax(f, dim=-1)
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)


def output_hessian_sqrt(f: Tensor, likelihood: str) -> Tensor:
    """Square root L_n with L_n L_n^T = Lambda_n (see :func:`output_hessian`).

    For classification L_n = diag(sqrt(p_n)) - p_n sqrt(p_n)^T, which satisfies
    L_n L_n^T = diag(p_n) - p_n p_n^T because sum_c p_nc = 1.

    Args:
        f: (N, C) network outputs.
        likelihood: ``"regression"`` or ``"classification"``.

    Returns:
        (N, C, C) square roots; column k of L_n is the k-th "output direction"
        that K-FAC backpropagates.
    """
    likelihood = check_likelihood(likelihood)
    n, c = f.shape
    if likelihood.is_regression:
        return torch.eye(c, dtype=f.dtype, device=f.device).expand(n, c, c).clone()
    p = torch.softmax(f, dim=-1)
    sqrt_p = p.sqrt()
    return torch.diag_embed(sqrt_p) - p.unsqueeze(-1) * sqrt_p.unsqueeze(-2)


def nll_gradient_outputs(f: Tensor, y: Tensor, likelihood: str) -> Tensor:
    """Gradient of -log p(y_n | f_n) w.r.t. f_n (unit noise for regression).

    Args:
        f: (N, C) network outputs.
        y: (N, C) regression targets, or (N,) integer class indices.
        likelihood: ``"regression"`` (gradient f - y) or ``"classification"``
            (gradient softmax(f) - onehot(y)).

    Returns:
        (N, C) per-example output gradients.
    """
    likelihood = check_likelihood(likelihood)
    if likelihood.is_regression:
        return f - y.reshape(f.shape).to(f.dtype)
    onehot = F.one_hot(y.long().reshape(-1), f.shape[-1]).to(f.dtype)
    return torch.softmax(f, dim=-1) - onehot
