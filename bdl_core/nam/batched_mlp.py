"""G independent MLPs with scalar output, evaluated together as batched matrix products.

A NAM has one small network per feature. Looping over features in Python costs one kernel
launch per feature and layer; stacking the G networks' weights into (G, out, in) tensors and
contracting with batched matrix products evaluates all of them in one call per layer. The hidden layers
have biases; the output layer has none (the additive model's intercept carries the offset).

Activations are laid out subnetwork-first, (G, N, width), so each layer is one ``baddbmm``
(about twice as fast on CPU as the equivalent ``einsum`` over (N, G, width)).

``forward_with_cache`` also returns every layer's input and pre-activation, which the
hand-written K-FAC in :mod:`bdl_core.nam.curvature` needs (the generic K-FAC hooks of
``bdl_core.curvature`` only recognise ``nn.Linear`` / ``nn.Conv2d`` layers).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu, "tanh": torch.tanh, "silu": F.silu}


class BatchedMLP(nn.Module):
    """G MLPs ``in -> hidden[0] -> ... -> hidden[-1] -> 1`` evaluated at once.

    Args:
        input_mask: (G, in_width) bool; False marks padded input slots whose first-layer
            weights are held at zero (masked in the forward pass, initialised to zero).
        hidden: Hidden widths (at least one layer).
        activation: ``"gelu"``, ``"relu"``, ``"tanh"`` or ``"silu"``.
        dtype, device: Of the parameters.
        generator: Optional random generator for the initialisation.

    Attributes:
        weights: ``ParameterList`` of (G, out_l, in_l) weights, l = 0..L-1.
        biases: ``ParameterList`` of (G, out_l) biases of the L-1 hidden layers.
        n_subnets: G.
        n_layers: L = len(hidden) + 1.
    """

    def __init__(
        self,
        input_mask: Tensor,
        hidden: list[int],
        activation: str = "gelu",
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("BatchedMLP needs at least one hidden layer.")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.")
        self.activation = activation
        self.hidden = list(hidden)
        G, in_width = input_mask.shape
        self.n_subnets, self.n_layers = G, len(hidden) + 1
        self.register_buffer("input_mask", input_mask.to(device=device, dtype=dtype or torch.get_default_dtype()))
        widths = [in_width, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        fan_in_first = input_mask.sum(-1).clamp_min(1).to(self.input_mask.dtype)  # (G,)
        for l in range(self.n_layers):
            d_in, d_out = widths[l], widths[l + 1]
            kw = dict(dtype=self.input_mask.dtype, device=self.input_mask.device)
            bound = (fan_in_first.rsqrt().reshape(G, 1, 1) if l == 0 else torch.full((G, 1, 1), 1 / math.sqrt(d_in), **kw))
            u = torch.rand(G, d_out, d_in, generator=generator, **kw) * 2 - 1
            weight = u * bound
            if l == 0:
                weight = weight * self.input_mask.unsqueeze(1)
            self.weights.append(nn.Parameter(weight))
            if l < self.n_layers - 1:
                ub = torch.rand(G, d_out, generator=generator, **kw) * 2 - 1
                self.biases.append(nn.Parameter(ub * bound.reshape(G, 1)))

    def layer_has_bias(self, l: int) -> bool:
        """Whether layer ``l`` has a bias (all but the output layer)."""
        return l < self.n_layers - 1

    def forward(self, U: Tensor) -> Tensor:
        """Outputs of the G networks.

        Args:
            U: (G, N, in_width) encoded inputs.

        Returns:
            (N, G) outputs.
        """
        return self.forward_with_cache(U)[0]

    def forward_with_cache(self, U: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """Outputs plus every layer's input and pre-activation.

        Args:
            U: (G, N, in_width) encoded inputs.

        Returns:
            out: (N, G) outputs.
            inputs: per layer l, (G, N, in_l) layer inputs (the masked U for l = 0).
            preacts: per layer l, (G, N, out_l) pre-activations s_l = W_l a_l (+ b_l); the
                last one is (G, N, 1) and holds ``out``.
        """
        act = ACTIVATIONS[self.activation]
        a = U * self.input_mask.unsqueeze(1)
        inputs, preacts = [], []
        for l in range(self.n_layers):
            weight = self.weights[l] * self.input_mask.unsqueeze(1) if l == 0 else self.weights[l]
            if self.layer_has_bias(l):
                s = torch.baddbmm(self.biases[l].unsqueeze(1), a, weight.transpose(1, 2))
            else:
                s = torch.bmm(a, weight.transpose(1, 2))
            inputs.append(a)
            preacts.append(s)
            a = act(s) if l < self.n_layers - 1 else s
        return a.squeeze(-1).T, inputs, preacts

    def extra_repr(self) -> str:
        return f"n_subnets={self.n_subnets}, hidden={self.hidden}, activation={self.activation!r}"
