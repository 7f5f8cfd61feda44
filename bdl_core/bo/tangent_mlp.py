"""A scalar-output MLP that also returns its tangent (Jacobian) features in closed form.

For an MLP with layers z_l = a_{l-1} W_l^T + b_l, a_l = phi(z_l) (l = 1..L) and a
linear output f = a_L W_{L+1}^T + b_{L+1}, the Jacobian of the scalar output is

    df/dW_l = delta_l^T a_{l-1},   df/db_l = delta_l,
    delta_{L+1} = 1,  delta_l = (delta_{l+1} W_{l+1}) * phi'(z_l),

so the per-example Jacobian (P entries) is fully described by the 2 (L + 1) small
vectors (a_{l-1}, delta_l), and the empirical NTK between two inputs with one prior
variance per parameter tensor is

    k(x, x') = sum_l (delta_l . delta_l') [v_{W_l} (a_{l-1} . a_{l-1}') + v_{b_l}].

Hand-written instead of ``torch.func.jacrev`` because the BO surrogate evaluates these
features thousands of times per suggestion with gradients w.r.t. the inputs: a few
batched matmuls are ~10-50x cheaper than a vmapped reverse-mode Jacobian followed by a
double backward. ``bdl_core.curvature.jacobians`` is the reference the tests compare to.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

ACTIVATIONS = ("tanh", "gelu", "silu", "relu")


def _tanh_pair(z: Tensor) -> tuple[Tensor, Tensor]:
    a = torch.tanh(z)
    return a, 1.0 - a * a


def _gelu_pair(z: Tensor) -> tuple[Tensor, Tensor]:
    cdf = 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))
    pdf = torch.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return z * cdf, cdf + z * pdf


def _silu_pair(z: Tensor) -> tuple[Tensor, Tensor]:
    s = torch.sigmoid(z)
    return z * s, s * (1.0 + z * (1.0 - s))


def _relu_pair(z: Tensor) -> tuple[Tensor, Tensor]:
    return torch.relu(z), (z > 0).to(z.dtype)


# Plain activations for ``forward`` (training): fused kernels, no derivative computed.
_PLAIN: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh, "gelu": nn.functional.gelu, "silu": nn.functional.silu, "relu": torch.relu,
}

_PAIRS: dict[str, Callable[[Tensor], tuple[Tensor, Tensor]]] = {
    "tanh": _tanh_pair, "gelu": _gelu_pair, "silu": _silu_pair, "relu": _relu_pair,
}


def activation_pair(name: str) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """``z -> (phi(z), phi'(z))`` of a named activation (one of ``ACTIVATIONS``)."""
    if name not in _PAIRS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")
    return _PAIRS[name]


def plain_activation(name: str) -> Callable[[Tensor], Tensor]:
    """The fused activation ``phi`` of a named activation (training forward passes)."""
    if name not in _PLAIN:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")
    return _PLAIN[name]


@dataclass
class TangentFeatures:
    """Outputs and per-layer Jacobian factors of a :class:`TangentMLP` at some inputs.

    Attributes:
        f: (*batch) network outputs.
        inputs: L + 1 tensors a_0..a_L, (*batch, fan_in_l): the input of each linear layer.
        deltas: L + 1 tensors delta_1..delta_{L+1}, (*batch, fan_out_l): d f / d z_l.
    """

    f: Tensor
    inputs: list[Tensor]
    deltas: list[Tensor]

    def detach(self) -> TangentFeatures:
        """A copy cut from the autograd graph."""
        return TangentFeatures(self.f.detach(), [a.detach() for a in self.inputs],
                               [d.detach() for d in self.deltas])

    def jacobian(self) -> Tensor:
        """(*batch, P) explicit Jacobian in ``named_parameters`` order (W_1, b_1, W_2, ...)."""
        parts = []
        for a, d in zip(self.inputs, self.deltas):
            parts.append((d.unsqueeze(-1) * a.unsqueeze(-2)).flatten(-2))
            parts.append(d)
        return torch.cat(parts, dim=-1)


class TangentMLP(nn.Module):
    """MLP R^d_in -> R with ``depth`` hidden layers of ``width`` units.

    Args:
        in_features: d_in.
        width: hidden units per layer.
        depth: number of hidden layers (>= 1).
        activation: one of ``ACTIVATIONS``.
        dtype, device: of the parameters.

    The parameters are ``layers.{i}.weight`` / ``layers.{i}.bias``, 2 (depth + 1)
    tensors in the order of :meth:`TangentFeatures.jacobian`.
    """

    def __init__(self, in_features: int, width: int = 50, depth: int = 2, activation: str = "tanh",
                 dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> None:
        super().__init__()
        if activation not in _PAIRS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if depth < 1 or width < 1 or in_features < 1:
            raise ValueError("in_features, width and depth must be positive")
        sizes = [in_features] + [width] * depth + [1]
        self.layers = nn.ModuleList(
            nn.Linear(i, o, dtype=dtype, device=device) for i, o in zip(sizes[:-1], sizes[1:])
        )
        self.activation = activation
        self._pair = _PAIRS[activation]

    @property
    def n_groups(self) -> int:
        """Number of parameter tensors, 2 (depth + 1)."""
        return 2 * len(self.layers)

    def forward(self, x: Tensor) -> Tensor:
        """(*batch, d_in) -> (*batch, 1) outputs."""
        act = _PLAIN[self.activation]
        for layer in self.layers[:-1]:
            x = act(layer(x))
        return self.layers[-1](x)

    def tangent_features(self, x: Tensor) -> TangentFeatures:
        """Outputs and Jacobian factors at ``x`` (*batch, d_in); differentiable w.r.t. x."""
        inputs, slopes = [x], []
        for layer in self.layers[:-1]:
            a, slope = self._pair(layer(inputs[-1]))
            inputs.append(a)
            slopes.append(slope)
        f = self.layers[-1](inputs[-1]).squeeze(-1)
        delta = torch.ones_like(f).unsqueeze(-1)
        deltas = [delta]
        for layer, slope in zip(reversed(self.layers[1:]), reversed(slopes)):
            delta = (delta @ layer.weight) * slope
            deltas.append(delta)
        return TangentFeatures(f, inputs, deltas[::-1])


def tangent_kernel(x1: TangentFeatures, x2: TangentFeatures, variances: Tensor) -> Tensor:
    """Empirical NTK J(x1) diag(v) J(x2)^T with one prior variance per parameter tensor.

    Args:
        x1: features with batch shape (*batch, m1) (or (m1,)).
        x2: features with batch shape (*batch, m2), or (m2,) to broadcast against x1's batch.
        variances: (2 (L + 1),) prior variances 1 / precision, order W_1, b_1, W_2, ...

    Returns:
        (*batch, m1, m2) kernel.
    """
    out = None
    for i, (a1, d1, a2, d2) in enumerate(zip(x1.inputs, x1.deltas, x2.inputs, x2.deltas)):
        term = (d1 @ d2.mT) * (variances[2 * i] * (a1 @ a2.mT) + variances[2 * i + 1])
        out = term if out is None else out + term
    return out


def gram_blocks(x: TangentFeatures) -> Tensor:
    """(G, n, n) per-parameter-tensor Gram matrices J_g J_g^T of features with batch (n,).

    ``tangent_kernel(x, x, v) == einsum("g,gij->ij", v, gram_blocks(x))``.
    """
    blocks = []
    for a, d in zip(x.inputs, x.deltas):
        dd = d @ d.mT
        blocks.append(dd * (a @ a.mT))
        blocks.append(dd)
    return torch.stack(blocks)
