"""A genuinely smaller network from structured pruning.

Removing hidden unit i of a layer deletes row i of its weight (filter i of a conv) and
bias entry i, and column i (input channel i) of the next parametrised layer. The result
computes exactly what the masked network computes, because a masked unit's
pre-activation is 0 and every activation supported here maps 0 to 0 (ReLU, tanh, GELU,
SiLU, ...; pooling of an all-zero channel is 0 too), so its column in the next layer
only ever multiplies zeros.

Supported: a flat ``nn.Sequential`` of ``Linear``, ``Conv2d``, element-wise
activations, ``MaxPool2d`` / ``AvgPool2d``, ``Dropout``, ``Flatten``, ``Unflatten`` and
``Identity`` (the layout of the job networks and of typical MLPs / LeNets). A
``Flatten`` between a conv and a Linear maps kept channel c to its block of
``H * W`` consecutive features.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

_ZERO_PRESERVING = (nn.ReLU, nn.Tanh, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU, nn.Hardtanh, nn.Softsign,
                    nn.Tanhshrink, nn.Mish)
_PASS_THROUGH = _ZERO_PRESERVING + (nn.MaxPool2d, nn.AvgPool2d, nn.Dropout, nn.Identity, nn.Unflatten)


def _sliced_parameters(layer: nn.Linear | nn.Conv2d, rows: Tensor | None,
                       cols: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """The layer's weight and bias restricted to output units ``rows`` and input units ``cols``."""
    W = layer.weight.detach()
    b = None if layer.bias is None else layer.bias.detach()
    if cols is not None:
        W = W[:, cols]
    if rows is not None:
        W = W[rows]
        b = None if b is None else b[rows]
    return W, b


def _filled(layer: nn.Linear | nn.Conv2d, W: Tensor, b: Tensor | None) -> nn.Linear | nn.Conv2d:
    """``layer`` with its weight and bias set to copies of ``W`` and ``b``."""
    with torch.no_grad():
        layer.weight.copy_(W)
        if b is not None:
            layer.bias.copy_(b)
    return layer


def _sliced_linear(layer: nn.Linear, rows: Tensor | None, cols: Tensor | None) -> nn.Linear:
    W, b = _sliced_parameters(layer, rows, cols)
    new = nn.Linear(W.shape[1], W.shape[0], bias=b is not None, device=W.device, dtype=W.dtype)
    return _filled(new, W, b)


def _sliced_conv(layer: nn.Conv2d, rows: Tensor | None, cols: Tensor | None) -> nn.Conv2d:
    if layer.groups != 1:
        raise ValueError("Structured shrinking supports Conv2d with groups=1 only.")
    W, b = _sliced_parameters(layer, rows, cols)
    new = nn.Conv2d(W.shape[1], W.shape[0], layer.kernel_size, stride=layer.stride, padding=layer.padding,
                    dilation=layer.dilation, bias=b is not None, padding_mode=layer.padding_mode,
                    device=W.device, dtype=W.dtype)
    return _filled(new, W, b)


def shrink_network(model: nn.Sequential, keep_units: dict[str, Tensor]) -> nn.Sequential:
    """The network without the removed units (the original is not changed).

    Args:
        model: A flat ``nn.Sequential`` (see the module docstring).
        keep_units: ``{child name: (n_units,) bool}`` kept output units of hidden
            Linear / Conv2d layers (e.g. from
            :func:`~bdl_core.pruning.thresholds.keep_units_from_mask`); layers not named
            keep all units. The last parametrised layer cannot be named.

    Returns:
        A new ``nn.Sequential`` with the same children names; for inputs (N, ...) it
        returns what ``model`` returns once the removed units are masked.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError("shrink_network needs an nn.Sequential.")
    children = list(model.named_children())
    parametrised = [name for name, m in children if isinstance(m, (nn.Linear, nn.Conv2d))]
    if parametrised and parametrised[-1] in keep_units:
        raise ValueError(f"The output layer {parametrised[-1]!r} cannot lose units.")
    unknown = set(keep_units) - set(parametrised)
    if unknown:
        raise ValueError(f"Not Linear / Conv2d children of the Sequential: {sorted(unknown)}.")

    out: list[tuple[str, nn.Module]] = []
    kept_in: Tensor | None = None  # kept channels / features entering the next layer (None: all)
    flattened = False  # kept_in counts conv channels that a Flatten turned into feature blocks
    for name, module in children:
        if isinstance(module, nn.Linear):
            cols = kept_in
            if cols is not None and flattened:
                block = module.in_features // cols.numel()
                cols = cols.repeat_interleave(block)
            rows = keep_units.get(name)
            out.append((name, _sliced_linear(module, _index(rows), _index(cols))))
            kept_in, flattened = rows, False
        elif isinstance(module, nn.Conv2d):
            if flattened:
                raise ValueError(f"Conv2d {name!r} after a Flatten is not supported.")
            rows = keep_units.get(name)
            out.append((name, _sliced_conv(module, _index(rows), _index(kept_in))))
            kept_in = rows
        elif isinstance(module, nn.Flatten):
            if kept_in is not None and (module.start_dim != 1 or module.end_dim != -1):
                raise ValueError("Only Flatten(1, -1) may follow a pruned layer.")
            flattened = flattened or kept_in is not None
            out.append((name, copy.deepcopy(module)))
        elif isinstance(module, _PASS_THROUGH):
            if kept_in is not None and isinstance(module, nn.Unflatten):
                raise ValueError("Unflatten after a pruned layer is not supported.")
            out.append((name, copy.deepcopy(module)))
        else:
            raise ValueError(f"Module {name!r} of type {type(module).__name__} is not supported by shrink_network.")
    small = nn.Sequential()
    for name, module in out:
        small.add_module(name, module)
    return small.train(model.training)


def _index(keep: Tensor | None) -> Tensor | None:
    return None if keep is None else keep.nonzero().squeeze(-1)
