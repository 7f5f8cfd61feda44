"""Dense (P, P) curvature matrices: generalised Gauss-Newton and empirical Fisher.

Only for small P (full-covariance Laplace, last-layer Laplace, tests). Sums run over
the N examples (no averaging). Computed from per-example Jacobians / gradients
(:mod:`.jacobians`), processed in chunks of examples to bound memory.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .jacobians import example_chunks, jacobians, per_example_gradients
from .likelihoods import check_likelihood, output_hessian_sqrt
from .params import ParameterLayout


def full_ggn(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    likelihood: str,
    layout: ParameterLayout,
    chunk_size: int | None = None,
) -> Tensor:
    """Exact GGN ``sum_n J_n^T Lambda_n J_n`` (unit noise for regression).

    Args:
        model: Network mapping (N, *in_shape) to (N, C).
        X: (N, *in_shape) inputs.
        y: (N, C) regression targets or (N,) class indices (the GGN does not depend
            on y; accepted for a uniform signature).
        likelihood: ``"regression"`` or ``"classification"``.
        layout: Selects the parameters.
        chunk_size: Examples per Jacobian evaluation (``None``: all at once).

    Returns:
        (P, P) symmetric PSD matrix in the layout's vector order.
    """
    check_likelihood(likelihood)
    p = layout.n_params
    out = torch.zeros(p, p, dtype=layout.dtype, device=layout.device)
    for chunk in example_chunks(X.shape[0], chunk_size):
        with torch.no_grad():
            f, J = jacobians(model, X[chunk].detach(), layout)
            L = output_hessian_sqrt(f, likelihood)  # (n, C, C)
            LJ = torch.einsum("nck,ncp->nkp", L, J).reshape(-1, p)
            out += LJ.T @ LJ
    return out


def full_efisher(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    likelihood: str,
    layout: ParameterLayout,
    chunk_size: int | None = None,
) -> Tensor:
    """Empirical Fisher ``sum_n g_n g_n^T`` of per-example NLL gradients g_n (unit noise).

    Args:
        model: Network mapping (N, *in_shape) to (N, C).
        X: (N, *in_shape) inputs.
        y: (N, C) regression targets or (N,) class indices.
        likelihood: ``"regression"`` or ``"classification"``.
        layout: Selects the parameters.
        chunk_size: Examples per gradient evaluation (``None``: all at once).

    Returns:
        (P, P) symmetric PSD matrix in the layout's vector order.
    """
    p = layout.n_params
    out = torch.zeros(p, p, dtype=layout.dtype, device=layout.device)
    for chunk in example_chunks(X.shape[0], chunk_size):
        with torch.no_grad():
            g = per_example_gradients(
                model, X[chunk].detach(), y[chunk], likelihood, layout
            )
            out += g.T @ g
    return out
