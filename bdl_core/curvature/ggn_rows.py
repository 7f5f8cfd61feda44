"""Square-root rows of the GGN, chunk by chunk: B_n = L_n^T J_n with L_n L_n^T = Lambda_n.

The full GGN (sum_n B_n^T B_n), its diagonal and the function-space form (the B_n
themselves) are all functions of these rows. For stacks of plain ``nn.Linear`` layers a
row is rank one per layer, u_nk (x) a~_n (``linear_jacobian_factors.ggn_factors``);
otherwise it comes from per-example Jacobians. This module decides which, once per
call, so that every structure takes the same path for the same model: the rank-one
path when the layout's own model is the one evaluated and its first chunk allows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .jacobians import example_chunks, jacobians
from .likelihoods import output_hessian_sqrt
from .linear_jacobian_factors import LinearLayerFactors, ggn_factors
from .params import ParameterLayout


@dataclass(frozen=True)
class GGNRows:
    """The rows of one chunk of n examples; exactly one field is set.

    Attributes:
        factors: Per selected linear layer, in vector order, the layer's factors (a~
            (n, d~)) and u (n, K, d_out).
        dense: (n, K, P) rows from Jacobians.
    """

    factors: list[tuple[LinearLayerFactors, Tensor]] | None = None
    dense: Tensor | None = None

    def to_dense(self) -> Tensor:
        """(n, K, P) rows in the layout's vector order (written from the factors if needed)."""
        if self.dense is not None:
            return self.dense
        first, u0 = self.factors[0]
        n_params = sum(factor.n_params for factor, _ in self.factors)
        rows = u0.new_empty(*u0.shape[:2], n_params)
        for factor, u in self.factors:  # vector order: W row-major, then b
            d_out, d_tilde = u.shape[-1], factor.a.shape[-1]
            d_in = d_tilde - 1 if factor.has_bias else d_tilde
            start = factor.offset - first.offset
            weight = rows[..., start : start + d_out * d_in].unflatten(-1, (d_out, d_in))
            torch.mul(u.unsqueeze(-1), factor.a[:, None, None, :d_in], out=weight)
            if factor.has_bias:
                rows[..., start + d_out * d_in : start + d_out * d_tilde] = u
        return rows


def ggn_row_chunks(model: nn.Module, X: Tensor, layout: ParameterLayout, likelihood: str,
                   chunk_size: int | None = None) -> Iterator[GGNRows]:
    """The GGN rows of X, one :class:`GGNRows` per chunk of at most ``chunk_size`` examples.

    Args:
        model: Network mapping (N, *in_shape) to (N, C).
        X: (N, *in_shape) inputs (detached here).
        layout: Selects the parameters.
        likelihood: ``"regression"`` or ``"classification"``.
        chunk_size: Examples per chunk (``None``: all at once).

    Yields:
        Rank-one factors while they apply (from the first chunk on), else dense (n, K, P) rows.
    """
    rank_one = layout.model is model  # the factors come from the layout's own model
    for chunk in example_chunks(X.shape[0], chunk_size):
        X_c = X[chunk].detach()
        factors = ggn_factors(layout, X_c, likelihood) if rank_one else None
        if factors is not None:
            yield GGNRows(factors=factors)
            continue
        rank_one = False
        with torch.no_grad():
            f, J = jacobians(model, X_c, layout)
            yield GGNRows(dense=torch.einsum("nck,ncp->nkp", output_hessian_sqrt(f, likelihood), J))
