"""Size and compute of a (possibly pruned) network: parameter and FLOP counts.

FLOPs are counted for ``nn.Linear`` and ``nn.Conv2d`` layers (they dominate every
network here) as 2 per multiply-accumulate plus 1 per bias addition, per example:
``dense`` counts every weight, ``sparse`` only non-zero weights (what a sparse kernel
would execute). A conv's multiply-accumulates are per output position, found by running
one example through the network with forward hooks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class NetworkCost:
    """Parameter and per-example FLOP counts.

    Attributes:
        n_params: All parameters.
        n_nonzero: Non-zero parameters.
        flops_dense: FLOPs per example counting every Linear / Conv2d weight.
        flops_sparse: FLOPs per example counting only non-zero weights and biases.
    """

    n_params: int
    n_nonzero: int
    flops_dense: int
    flops_sparse: int

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict."""
        return asdict(self)


@torch.no_grad()
def network_cost(model: nn.Module, example: Tensor) -> NetworkCost:
    """Count parameters and FLOPs of ``model``.

    Args:
        model: The network (unchanged; run once in eval mode, its mode is restored).
        example: (1, *in_shape) (or (N, ...); only the first example is used) input.

    Returns:
        A :class:`NetworkCost`.
    """
    positions: dict[nn.Module, int] = {}

    def record(module: nn.Module, inputs: tuple, output: Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            positions[module] = int(output.shape[-2] * output.shape[-1])
        else:
            positions[module] = int(output[0].numel() // output.shape[-1]) if output.dim() > 1 else 1

    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    handles = [m.register_forward_hook(record) for m in layers]
    was_training = model.training
    try:
        model.eval()
        model(example[:1])
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    dense = sparse = 0
    for layer in layers:
        reps = positions.get(layer, 0)
        W = layer.weight
        dense += reps * 2 * W.numel()
        sparse += reps * 2 * int(torch.count_nonzero(W))
        if layer.bias is not None:
            dense += reps * layer.bias.numel()
            sparse += reps * int(torch.count_nonzero(layer.bias))
    params = list(model.parameters())
    return NetworkCost(
        n_params=sum(p.numel() for p in params),
        n_nonzero=sum(int(torch.count_nonzero(p)) for p in params),
        flops_dense=dense,
        flops_sparse=sparse,
    )
