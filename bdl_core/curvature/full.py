"""Dense (P, P) curvature matrices: generalised Gauss-Newton and empirical Fisher.

Only for small P (full-covariance Laplace, last-layer Laplace, tests). Sums run over
the N examples (no averaging). Computed from per-example Jacobians / gradients
(:mod:`.jacobians`), processed in chunks of examples to bound memory.

For stacks of plain linear layers the GGN comes from rank-one
Jacobian factors instead (``linear_jacobian_factors``): row k of L_n^T J_n restricted to
layer l is u^l_nk (x) a~^l_n with u^l_nk = sum_c L_n[c, k] g^l_nc, so the block of layers
(l, m) is

    H_lm[(i, s), (j, t)] = sum_n U^lm_n[i, j] a~^l_n[s] a~^m_n[t],   U^lm_n = sum_k u^l_nk u^m_nk^T,

one (d_l d_m, N) x (N, d~_l d~_m) matrix product: O(N P^2) instead of the O(N C P^2) of
stacking the N C Jacobian rows (for a last layer, the C-fold saving of never repeating
a~ a~^T per output).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bdl_core.likelihood import check_likelihood

from .ggn_rows import ggn_row_chunks
from .jacobians import example_chunks, per_example_gradients
from .params import ParameterLayout

#: Most entries of the (rows, d~_l d~_m) input-outer-product chunk held at once.
OUTER_PRODUCT_BUDGET = 2**24


def _add_ggn_from_factors(per_layer: list, out: Tensor) -> None:
    """Add the GGN of rank-one rows (see :mod:`.ggn_rows`) to ``out`` (P, P)."""
    # vector position -> matrix-view index, per layer
    orders = [torch.argsort(factor.vector_positions() - factor.offset) for factor, _ in per_layer]
    n = per_layer[0][0].a.shape[0]
    for l, (fl, ul) in enumerate(per_layer):
        for m in range(l, len(per_layer)):
            fm, um = per_layer[m]
            dl, dm, sl, sm = fl.g.shape[-1], fm.g.shape[-1], fl.a.shape[-1], fm.a.shape[-1]
            block = out.new_zeros(dl * dm, sl * sm)
            rows = max(1, OUTER_PRODUCT_BUDGET // max(sl * sm, dl * dm))
            for chunk in example_chunks(n, rows):
                U = torch.einsum("nki,nkj->nij", ul[chunk], um[chunk]).reshape(-1, dl * dm)
                A = torch.einsum("ns,nt->nst", fl.a[chunk], fm.a[chunk]).reshape(-1, sl * sm)
                block += U.T @ A
            # (i, j, s, t) -> rows (i, s), columns (j, t) of the matrix views, then vector order
            block = block.reshape(dl, dm, sl, sm).permute(0, 2, 1, 3).reshape(dl * sl, dm * sm)
            block = block[orders[l]][:, orders[m]]
            rl, rm = slice(fl.offset, fl.offset + fl.n_params), slice(fm.offset, fm.offset + fm.n_params)
            out[rl, rm] += block
            if m != l:
                out[rm, rl] += block.mT


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
    for rows in ggn_row_chunks(model, X, layout, likelihood, chunk_size):
        if rows.factors is not None:
            _add_ggn_from_factors(rows.factors, out)
        else:
            B = rows.dense.reshape(-1, p)
            out += B.T @ B
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
