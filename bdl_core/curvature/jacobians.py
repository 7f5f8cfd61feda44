"""Per-example Jacobians and per-example NLL gradients w.r.t. a parameter subset.

Built on ``torch.func`` (``functional_call`` + ``vmap(jacrev)`` / ``vmap(grad)``)
instead of a curvature library (BackPACK, ASDL) so that ``bdl_core`` stays pure
PyTorch and the Jacobians stay differentiable w.r.t. the inputs X, which the
Bayesian-optimisation surrogate needs for gradients of the predictive variance.

The model is evaluated one example at a time (``x.unsqueeze(0)``), so it must treat
examples independently (no batch norm in training mode, no dropout randomness).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, jacrev, vmap

from bdl_core.likelihood import check_likelihood

from .params import ParameterLayout


def _detached_params(layout: ParameterLayout) -> dict[str, Tensor]:
    return {name: p.detach() for name, p in layout.named_parameters()}


def _flatten_per_example(
    per_param: dict[str, Tensor], layout: ParameterLayout, lead: int
) -> Tensor:
    """Concatenate {name: (*lead_shape, *param_shape)} into (*lead_shape, P) in vector order."""
    parts = []
    for group in layout.groups:
        t = per_param[group.name]
        parts.append(t.reshape(*t.shape[:lead], group.numel))
    return torch.cat(parts, dim=-1)


def single_example_forward(
    model: nn.Module,
) -> Callable[[dict[str, Tensor], Tensor], Tensor]:
    """Return ``fn(params, x) -> (C,)``: the model output for ONE example x (no batch dim).

    ``params`` maps parameter names to tensors that replace the model's own ones
    (parameters not in the dict keep their current values).
    """

    def forward(params: dict[str, Tensor], x: Tensor) -> Tensor:
        out = functional_call(model, params, (x.unsqueeze(0),))
        return out.reshape(-1)

    return forward


def jacobians(
    model: nn.Module,
    X: Tensor,
    layout: ParameterLayout,
    chunk_size: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Model outputs and their Jacobians w.r.t. the layout's parameters.

    Args:
        model: Network mapping (N, *in_shape) to (N, C) (a (N,) output counts as C = 1).
        X: (N, *in_shape) inputs. If ``X.requires_grad``, both returned tensors are
            differentiable w.r.t. X with ordinary autograd (never w.r.t. the
            parameters: they enter as detached values).
        layout: Selects the parameters; J's last axis follows its vector order.
        chunk_size: Examples processed per vectorised call (``None``: all at once).
            Lower it to bound memory.

    Returns:
        f: (N, C) outputs at the current parameters.
        J: (N, C, P) with ``J[n, c, q] = d f[n, c] / d theta[q]``.
    """
    forward = single_example_forward(model)

    def with_aux(params: dict[str, Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
        out = forward(params, x)
        return out, out

    jac_fn = vmap(
        jacrev(with_aux, has_aux=True), in_dims=(None, 0), chunk_size=chunk_size
    )
    per_param, f = jac_fn(_detached_params(layout), X)
    return f, _flatten_per_example(per_param, layout, lead=2)


def per_example_gradients(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    likelihood: str,
    layout: ParameterLayout,
    chunk_size: int | None = None,
) -> Tensor:
    """Gradients g_n of -log p(y_n | f(x_n)) (unit noise) w.r.t. the layout's parameters.

    Args:
        model: Network mapping (N, *in_shape) to (N, C).
        X: (N, *in_shape) inputs.
        y: (N, C) regression targets or (N,) class indices.
        likelihood: ``"regression"`` or ``"classification"``.
        layout: Selects the parameters.
        chunk_size: Examples per vectorised call (``None``: all at once).

    Returns:
        (N, P) per-example gradients in the layout's vector order.
    """
    likelihood = check_likelihood(likelihood)
    forward = single_example_forward(model)

    def loss(params: dict[str, Tensor], x: Tensor, target: Tensor) -> Tensor:
        f = forward(params, x).unsqueeze(0)
        return likelihood.negative_log_likelihood(f, target.unsqueeze(0), normalised=False)

    if not likelihood.is_regression:
        y = y.reshape(-1)
    grad_fn = vmap(grad(loss), in_dims=(None, 0, 0), chunk_size=chunk_size)
    per_param = grad_fn(_detached_params(layout), X, y)
    return _flatten_per_example(per_param, layout, lead=1)


def example_chunks(n: int, chunk_size: int | None) -> list[slice]:
    """Split ``range(n)`` into consecutive slices of at most ``chunk_size`` (one slice if None)."""
    if chunk_size is None or chunk_size >= n:
        return [slice(0, n)]
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}.")
    return [slice(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]
