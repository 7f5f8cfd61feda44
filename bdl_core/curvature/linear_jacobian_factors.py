"""Rank-one factors of the Jacobians of plain ``nn.Linear`` layers.

For a linear layer s = W a + b applied once to a (N, d_in) batch, the Jacobian of
output c of example n with respect to the layer matrix [W | b] is the outer product

    d f[n, c] / d [W | b] = g[n, c] a~[n]^T,   g[n, c] = d f[n, c] / d s[n]  (d_out,),
                                                a~[n] = [a[n]; 1]             (d_in + 1,)

so a K-FAC functional variance J P^-1 J^T can be evaluated from g and a~ without ever
forming the (N, C, P) Jacobian (``KronPrecision.functional_variance_from_factors``; likewise the exact GGN diagonal
and the diagonal-posterior predictive): the
generic path rotates every (d_out, d_in') Jacobian row into the factors' eigenbases,
O(N C (d_out^2 d_in + d_out d_in^2)), the rank-one path rotates g and a~ separately,
O(N (C d_out^2 + d_in^2 + d_out d_in)). No library exposes these per-layer factors for
an arbitrary model at prediction time (BackPACK and ASDL compute them inside their own
curvature passes), hence this small module.

The factors are collected with forward hooks while the model runs once on the batch
(parameters swapped in detached through ``functional_call``, so no parameter gradient is
touched), and ``g`` by one backward pass per output. The fast path applies only when
every selected layer is an ``nn.Linear`` whose parameters are all selected and which is
called exactly once on a 2-D input; otherwise :func:`linear_jacobian_factors` returns
None and callers use full Jacobians. Outputs stay differentiable w.r.t. X when X
requires grad.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call

from .likelihoods import output_hessian_sqrt
from .params import ParameterLayout


@dataclass(frozen=True)
class LinearLayerFactors:
    """Rank-one Jacobian factors of one linear layer for a batch.

    Attributes:
        module_name: The layer's name in ``model.named_modules()``.
        offset: Index of the layer's weight in the layout's (P,) vector (bias follows).
        has_bias: Whether the bias is part of the layout.
        g: (N, C, d_out) gradients of the outputs w.r.t. the layer's outputs.
        a: (N, d_in') the layer's inputs, with a column of ones when ``has_bias``.
    """

    module_name: str
    offset: int
    has_bias: bool
    g: Tensor
    a: Tensor

    @property
    def n_params(self) -> int:
        """d_out * d_in' parameters of the layer."""
        return self.g.shape[-1] * self.a.shape[-1]

    def vector_positions(self) -> Tensor:
        """(d_out * d_in',) position in the layout's (P,) vector of each entry of the
        row-major flattened (d_out, d_in') matrix view [W | b]."""
        d_out, d_in = self.g.shape[-1], self.a.shape[-1]
        view = torch.arange(d_out * d_in, device=self.a.device).reshape(d_out, d_in)
        return torch.argsort(matrix_view_to_vector(view, self.has_bias)) + self.offset


def ggn_factors(layout: ParameterLayout, X: Tensor,
                likelihood: str) -> list[tuple[LinearLayerFactors, Tensor]] | None:
    """Per-layer factors of the GGN rows L_n^T J_n: u_nk (x) a~_n with u_nk = sum_c L_n[c, k] g_nc.

    Args:
        layout: Selected parameters (see :func:`linear_jacobian_factors`).
        X: (N, *in_shape) inputs.
        likelihood: ``"regression"`` or ``"classification"`` (L_n L_n^T = Lambda_n).

    Returns:
        (factors, u (N, K, d_out)) per selected layer in vector order, or None when the
        rank-one factors do not apply.
    """
    result = linear_jacobian_factors(layout, X)
    if result is None:
        return None
    f, factors = result
    L = output_hessian_sqrt(f, likelihood)  # (N, C, K)
    return [(factor, torch.einsum("nck,nci->nki", L, factor.g)) for factor in factors]


def _linear_layers(layout: ParameterLayout) -> list[tuple[str, nn.Linear, int, bool]] | None:
    """(name, module, offset, has_bias) per selected layer if all are whole nn.Linear layers."""
    modules = dict(layout.model.named_modules())
    layers: list[tuple[str, nn.Linear, int, bool]] = []
    groups = list(layout.groups)
    i = 0
    while i < len(groups):
        group = groups[i]
        module = modules.get(group.module_name)
        if type(module) is not nn.Linear or group.kind != "weight":
            return None
        has_bias = module.bias is not None
        if has_bias:
            if i + 1 >= len(groups) or groups[i + 1].module_name != group.module_name or groups[i + 1].kind != "bias":
                return None
        layers.append((group.module_name, module, group.offset, has_bias))
        i += 2 if has_bias else 1
    return layers


def linear_jacobian_factors(layout: ParameterLayout,
                            X: Tensor) -> tuple[Tensor, list[LinearLayerFactors]] | None:
    """Outputs and per-layer rank-one Jacobian factors, or None when they do not apply.

    Args:
        layout: Selected parameters; ``layout.model`` maps (N, d) to (N, C) or (N,).
        X: (N, *in_shape) inputs.

    Returns:
        f: (N, C) outputs, and one :class:`LinearLayerFactors` per selected layer in
        vector order; None unless every selected parameter belongs to a whole
        ``nn.Linear`` layer called exactly once on a 2-D input.
    """
    layers = _linear_layers(layout)
    if not layers:
        return None
    seen: dict[int, list[tuple[Tensor, Tensor]]] = {id(m): [] for _, m, _, _ in layers}

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        seen[id(module)].append((inputs[0], output))

    handles = [m.register_forward_hook(hook) for _, m, _, _ in layers]
    differentiable = X.requires_grad
    try:
        with torch.enable_grad():
            params = {name: p.detach().requires_grad_(True) for name, p in layout.named_parameters()}
            f = functional_call(layout.model, params, (X,))
    finally:
        for h in handles:
            h.remove()
    records = [seen[id(m)] for _, m, _, _ in layers]
    if any(len(r) != 1 or r[0][0].ndim != 2 for r in records):
        return None
    if f.ndim == 1:
        f = f.unsqueeze(-1)
    if f.ndim != 2 or f.shape[0] != X.shape[0]:
        return None
    outputs = [r[0][1] for r in records]
    n, c = f.shape
    with torch.enable_grad():
        per_output = [
            torch.autograd.grad(f[:, k].sum(), outputs, retain_graph=True, create_graph=differentiable,
                                allow_unused=True, materialize_grads=True)
            for k in range(c)
        ]
    factors = []
    for i, ((name, _, offset, has_bias), record) in enumerate(zip(layers, records)):
        a = record[0][0]
        if has_bias:
            a = torch.cat([a, a.new_ones(n, 1)], dim=1)
        g = torch.stack([grads[i] for grads in per_output], dim=1)  # (N, C, d_out)
        if not differentiable:
            a, g = a.detach(), g.detach()
        factors.append(LinearLayerFactors(name, offset, has_bias, g, a))
    return (f if differentiable else f.detach()), factors


def matrix_view_to_vector(M: Tensor, has_bias: bool) -> Tensor:
    """(..., d_out, d_in') layer matrix [W | b] -> (..., d_out * d_in') in vector order."""
    if not has_bias:
        return M.flatten(-2)
    return torch.cat([M[..., :-1].flatten(-2), M[..., -1]], dim=-1)


def vector_to_matrix_view(v: Tensor, d_out: int, has_bias: bool) -> Tensor:
    """Inverse of :func:`matrix_view_to_vector`: (..., P_l) -> (..., d_out, d_in')."""
    if not has_bias:
        return v.unflatten(-1, (d_out, -1))
    n_w = v.shape[-1] - d_out
    W = v[..., :n_w].unflatten(-1, (d_out, -1))
    return torch.cat([W, v[..., n_w:].unsqueeze(-1)], dim=-1)
