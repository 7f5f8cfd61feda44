"""Norm of the first layer's gradient of a batch-normalised MLP, the quantity Meterez et al. (2024)
bound at any depth.

For a batch X (n, d) and a fixed random direction G (n, width) of unit Frobenius norm, the loss is
``<G, H>`` with H the last hidden representation (the input of the head), so the gradient reaching
the top of the network has norm one and only depth decides what reaches the first layer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def first_layer_gradient_norm(network: nn.Sequential, x: Tensor, direction: Tensor) -> float:
    """||d<G, H(X)>/dW_1||_F of the network's first ``nn.Linear`` (training mode: batch statistics).

    Args:
        network: An ``nn.Sequential`` ending in an ``nn.Linear`` head (the head is not used).
        x: (n, d) inputs.
        direction: (n, width) G, the cotangent of the last hidden representation.
    """
    body = network[:-1]
    first = next(module for module in network if isinstance(module, nn.Linear))
    network.train()
    hidden = body(x)
    (gradient,) = torch.autograd.grad((hidden * direction).sum(), first.weight)
    return float(gradient.norm())


def independent_inputs(n: int, d: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> Tensor:
    """(n, d) Gaussian inputs, rows linearly independent (checked; needs n <= d)."""
    if n > d:
        raise ValueError(f"n={n} rows cannot be linearly independent in d={d} dimensions.")
    x = torch.randn(n, d, generator=generator, dtype=dtype)
    if torch.linalg.matrix_rank(x) < n:  # probability zero; keeps the claim exact
        raise RuntimeError("drawn inputs are linearly dependent")
    return x
