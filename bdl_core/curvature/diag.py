"""Diagonal curvature: exact diagonal of the GGN and of the empirical Fisher.

The (P, P) matrix is never formed: with B_n = L_n^T J_n (L_n L_n^T = Lambda_n),
``diag(sum_n J_n^T Lambda_n J_n) = sum_n sum_k B_n[k]**2``, which needs only the
(N, C, P) Jacobians, processed in chunks of examples. For stacks of plain linear layers
the Jacobian rows are rank one (``linear_jacobian_factors``): B_n[k] of layer l is
h_nk a~_n^T with h_nk = sum_c L_n[c, k] g_nc, so the diagonal of that layer is
sum_n (h_n^2)^T (a~_n^2), a (d_out, d_in') matrix product, and no Jacobian is formed.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bdl_core.likelihood import check_likelihood

from .ggn_rows import ggn_row_chunks
from .jacobians import example_chunks, per_example_gradients
from .linear_jacobian_factors import matrix_view_to_vector
from .params import ParameterLayout


def _add_diag_from_factors(factors: list, out: Tensor) -> None:
    """Add the GGN diagonal of rank-one rows (see :mod:`.ggn_rows`) to ``out`` (P,)."""
    for factor, h in factors:  # h: (N, K, d_out)
        M = h.pow(2).sum(1).mT @ factor.a.pow(2)  # (d_out, d_in')
        out[factor.offset : factor.offset + factor.n_params] += matrix_view_to_vector(M, factor.has_bias)


def diag_ggn(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    likelihood: str,
    layout: ParameterLayout,
    chunk_size: int | None = None,
) -> Tensor:
    """Exact diagonal of the GGN ``sum_n J_n^T Lambda_n J_n`` (unit noise for regression).

    Args:
        model: Network mapping (N, *in_shape) to (N, C).
        X: (N, *in_shape) inputs.
        y: (N, C) targets or (N,) class indices (unused by the GGN; uniform signature).
        likelihood: ``"regression"`` or ``"classification"``.
        layout: Selects the parameters.
        chunk_size: Examples per Jacobian evaluation (``None``: all at once).

    Returns:
        (P,) non-negative diagonal in the layout's vector order.
    """
    check_likelihood(likelihood)
    out = torch.zeros(layout.n_params, dtype=layout.dtype, device=layout.device)
    for rows in ggn_row_chunks(model, X, layout, likelihood, chunk_size):
        if rows.factors is not None:
            _add_diag_from_factors(rows.factors, out)
        else:
            out += rows.dense.pow(2).sum(dim=(0, 1))
    return out


def diag_efisher(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    likelihood: str,
    layout: ParameterLayout,
    chunk_size: int | None = None,
) -> Tensor:
    """Diagonal of the empirical Fisher ``sum_n g_n g_n^T``: ``sum_n g_n**2`` (unit noise).

    Args:
        model: Network mapping (N, *in_shape) to (N, C).
        X: (N, *in_shape) inputs.
        y: (N, C) regression targets or (N,) class indices.
        likelihood: ``"regression"`` or ``"classification"``.
        layout: Selects the parameters.
        chunk_size: Examples per gradient evaluation (``None``: all at once).

    Returns:
        (P,) non-negative diagonal in the layout's vector order.
    """
    out = torch.zeros(layout.n_params, dtype=layout.dtype, device=layout.device)
    for chunk in example_chunks(X.shape[0], chunk_size):
        with torch.no_grad():
            g = per_example_gradients(
                model, X[chunk].detach(), y[chunk], likelihood, layout
            )
            out += g.pow(2).sum(dim=0)
    return out
