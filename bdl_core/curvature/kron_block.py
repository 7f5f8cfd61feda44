"""One Kronecker-factored curvature block and its index bookkeeping.

A block approximates the curvature of one ``nn.Linear`` / ``nn.Conv2d`` layer as
``A (x) G`` (``torch.kron(A, G)``). Kronecker products index the layer's natural
matrix ``M = [W | b]`` of shape (d_out, d_in [+1]) COLUMN-major: kron index
``j * d_out + i`` is entry ``M[i, j]`` (input index j, output index i; the bias is the
last column j = d_in). ``parameters_to_vector`` instead stores W row-major and then b.
:meth:`KronBlock.permutation` converts between the two orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class KronBlock:
    """Kronecker factors of one layer: H_l ~= A (x) G in the [W | b] column-major layout.

    Attributes:
        module_name: Name of the layer in ``model.named_modules()``.
        param_names: ``[weight_name]`` or ``[weight_name, bias_name]`` (layout names).
        A: (d_in [+1], d_in [+1]) input factor, summed over data (the last row/column is
            the bias' constant-1 input when ``has_bias``; conv: d_in = C_in * kh * kw).
        G: (d_out, d_out) output-gradient factor, already divided by the number of data
            points, so ``kron(A, G)`` approximates the SUMMED curvature with no extra factor.
        has_bias: Whether the bias is part of the block.
        offset: Index of the block's first parameter (the weight) in the layout's (P,) vector;
            the block occupies ``[offset, offset + n_params)``.
    """

    module_name: str
    param_names: list[str]
    A: Tensor
    G: Tensor
    has_bias: bool
    offset: int = 0

    @property
    def d_in(self) -> int:
        """Input dimension of the weight (without the bias column)."""
        return self.A.shape[0] - int(self.has_bias)

    @property
    def d_out(self) -> int:
        """Output dimension (rows of W)."""
        return self.G.shape[0]

    @property
    def n_params(self) -> int:
        """P_l = d_out * (d_in + has_bias)."""
        return self.A.shape[0] * self.G.shape[0]

    def permutation(self) -> Tensor:
        """Index map from ``parameters_to_vector`` order to kron order.

        Returns:
            (P_l,) long tensor ``perm`` with ``perm[q]`` = kron index of the q-th
            parameter in vector order (weight row-major, then bias). Hence
            ``dense_vec = kron(A, G)[perm][:, perm]``, an eigenvector ``v`` of
            ``kron(A, G)`` reads ``v[perm]`` in vector order, and a vector-order ``u``
            becomes kron order via ``u_kron[perm] = u`` (``u[perm.argsort()]``).
        """
        device = self.A.device
        rows = torch.arange(self.d_out, device=device)
        cols = torch.arange(self.d_in, device=device)
        weight_idx = (cols.unsqueeze(0) * self.d_out + rows.unsqueeze(1)).reshape(-1)
        if not self.has_bias:
            return weight_idx
        return torch.cat([weight_idx, self.d_in * self.d_out + rows])

    def to_dense(self) -> Tensor:
        """The block as a dense matrix in ``parameters_to_vector`` order.

        Returns:
            (P_l, P_l) matrix ``kron(A, G)[perm][:, perm]`` (see :meth:`permutation`).
        """
        perm = self.permutation()
        return torch.kron(self.A, self.G)[perm][:, perm]
