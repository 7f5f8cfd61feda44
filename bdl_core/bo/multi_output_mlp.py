"""An MLP with ``m`` outputs and its tangent features in closed form, for a joint multi-output LLA.

The hidden layers are shared, the output layer has one row per output. For output ``k`` the
backward recursion of :mod:`tangent_mlp` starts from ``delta_{L+1} = e_k``, so the Jacobian of
every output is described by ``delta_l^{(k)}`` (one per output and layer) and the layer inputs
``a_{l-1}`` (shared). The empirical NTK between output ``k`` at ``x`` and output ``k'`` at ``x'``,
with one prior variance per parameter tensor, is

    K[(x, k), (x', k')] = sum_l (delta_l^{(k)}(x) . delta_l^{(k')}(x')) [v_{W_l} (a_{l-1} . a'_{l-1}) + v_{b_l}],

where for the output layer ``delta_{L+1}^{(k)} . delta_{L+1}^{(k')} = [k = k']``. Outputs are
correlated through the shared hidden layers: a joint Laplace posterior over all of them.
Hand-written for the same reason as ``tangent_mlp``: the acquisition evaluates these features
thousands of times with gradients w.r.t. the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .tangent_mlp import activation_pair, plain_activation


@dataclass
class MultiTangentFeatures:
    """Outputs and per-layer Jacobian factors of a :class:`MultiOutputMLP`.

    Attributes:
        f: (*batch, m) outputs.
        inputs: L + 1 tensors a_0..a_L, (*batch, fan_in_l).
        deltas: L + 1 tensors, (*batch, m, fan_out_l): d f_k / d z_l for every output k.
    """

    f: Tensor
    inputs: list[Tensor]
    deltas: list[Tensor]

    def detach(self) -> MultiTangentFeatures:
        """A copy cut from the autograd graph."""
        return MultiTangentFeatures(self.f.detach(), [a.detach() for a in self.inputs], [d.detach() for d in self.deltas])

    def jacobian(self) -> Tensor:
        """(*batch, m, P) explicit Jacobian in ``named_parameters`` order (W_1, b_1, W_2, ...)."""
        parts = []
        for a, d in zip(self.inputs, self.deltas):
            parts.append((d.unsqueeze(-1) * a.unsqueeze(-2).unsqueeze(-2)).flatten(-2))
            parts.append(d)
        return torch.cat(parts, dim=-1)


class MultiOutputMLP(nn.Module):
    """MLP R^d_in -> R^m with ``depth`` shared hidden layers of ``width`` units.

    Args:
        in_features: d_in.
        n_outputs: m.
        width, depth, activation: as for ``TangentMLP``.
        dtype, device: of the parameters.
    """

    def __init__(self, in_features: int, n_outputs: int, width: int = 50, depth: int = 2, activation: str = "gelu",
                 dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> None:
        super().__init__()
        if min(in_features, n_outputs, width, depth) < 1:
            raise ValueError("in_features, n_outputs, width and depth must be positive")
        sizes = [in_features] + [width] * depth + [n_outputs]
        self.layers = nn.ModuleList(nn.Linear(i, o, dtype=dtype, device=device) for i, o in zip(sizes[:-1], sizes[1:]))
        self.activation = activation
        self.n_outputs = n_outputs
        self._pair = activation_pair(activation)
        self._plain = plain_activation(activation)

    @property
    def n_groups(self) -> int:
        """Number of parameter tensors, 2 (depth + 1)."""
        return 2 * len(self.layers)

    def forward(self, x: Tensor) -> Tensor:
        """(*batch, d_in) -> (*batch, m)."""
        for layer in self.layers[:-1]:
            x = self._plain(layer(x))
        return self.layers[-1](x)

    def tangent_features(self, x: Tensor) -> MultiTangentFeatures:
        """Outputs and Jacobian factors at ``x`` (*batch, d_in); differentiable w.r.t. x."""
        inputs, slopes = [x], []
        for layer in self.layers[:-1]:
            a, slope = self._pair(layer(inputs[-1]))
            inputs.append(a)
            slopes.append(slope)
        f = self.layers[-1](inputs[-1])
        eye = torch.eye(self.n_outputs, dtype=x.dtype, device=x.device)
        delta = eye.expand(*f.shape[:-1], self.n_outputs, self.n_outputs)
        deltas = [delta]
        for layer, slope in zip(reversed(self.layers[1:]), reversed(slopes)):
            delta = (delta @ layer.weight) * slope.unsqueeze(-2)
            deltas.append(delta)
        return MultiTangentFeatures(f, inputs, deltas[::-1])


def multi_output_kernel(x1: MultiTangentFeatures, x2: MultiTangentFeatures, variances: Tensor) -> Tensor:
    """Joint empirical NTK ``J(x1) diag(v) J(x2)^T`` over points and outputs.

    Args:
        x1: features with batch shape (*batch, q1).
        x2: features with batch shape (*batch, q2) or (q2,).
        variances: (2 (L + 1),) prior variances per parameter tensor (W_1, b_1, W_2, ...).

    Returns:
        (*batch, q1 m, q2 m) kernel, points outer and outputs inner ("interleaved" order).
    """
    out = None
    for i, (a1, d1, a2, d2) in enumerate(zip(x1.inputs, x1.deltas, x2.inputs, x2.deltas)):
        dd = torch.einsum("...ikf,...jlf->...ikjl", d1, d2) if d2.dim() == d1.dim() else \
            torch.einsum("...ikf,jlf->...ikjl", d1, d2)
        aa = a1 @ a2.mT
        term = dd * (variances[2 * i] * aa + variances[2 * i + 1]).unsqueeze(-1).unsqueeze(-3)
        out = term if out is None else out + term
    *batch, q1, m, q2, _ = out.shape
    return out.reshape(*batch, q1 * m, q2 * m)


def multi_gram_blocks(x: MultiTangentFeatures) -> Tensor:
    """(G, n m, n m) per-parameter-tensor Gram blocks at the training inputs (batch (n,))."""
    blocks = []
    for a, d in zip(x.inputs, x.deltas):
        dd = torch.einsum("ikf,jlf->ikjl", d, d)
        n, m = dd.shape[0], dd.shape[1]
        blocks.append((dd * (a @ a.mT).unsqueeze(-1).unsqueeze(-3)).reshape(n * m, n * m))
        blocks.append(dd.reshape(n * m, n * m))
    return torch.stack(blocks)
