"""Image classifiers built from :class:`~.two_path.TwoPathConv2d` layers, on flat inputs.

``[TwoPathConv2d -> activation] x K -> read-out`` with a leading ``nn.Unflatten``, so the network takes
(N, C*H*W) rows like every other network of the project. The read-out is ``"pool"`` (global average
over positions, then ``nn.Linear``: translation-invariant, so a conv-only network is invariant and any
position-dependence must come from the layers' free paths) or ``"flatten"`` (``nn.Linear`` on all
C*H*W values: position-dependent by itself, so it can stand in for the free paths). The same builder makes the
learned network (both paths), the conv-only and the dense-only baselines (one path per layer).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .two_path import PATHS, TwoPathConv2d

READOUTS = ("pool", "flatten")
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU}


class TwoPathNetwork(nn.Module):
    """K two-path layers and a dense read-out.

    Args:
        image_shape: (C, H, W) that a flat input row is folded into.
        n_outputs: Number of outputs (classes).
        channels: Output channels of each of the K layers.
        kernel_size: Odd kernel size of the convolutional paths.
        paths: Paths of every layer (``("conv", "dense")`` for the learned network).
        activation: Name in :data:`ACTIVATIONS`.
        readout: ``"pool"`` or ``"flatten"`` (module docstring).

    Attributes:
        layers: ``nn.ModuleList`` of the K :class:`TwoPathConv2d`.
        readout: The final ``nn.Linear``.
    """

    def __init__(self, image_shape: Sequence[int], n_outputs: int, channels: Sequence[int] = (8, 8),
                 kernel_size: int = 3, paths: Sequence[str] = PATHS, activation: str = "relu", readout: str = "pool") -> None:
        super().__init__()
        if len(image_shape) != 3 or any(int(s) < 1 for s in image_shape):
            raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {tuple(image_shape)}.")
        if not channels:
            raise ValueError("channels must name at least one layer.")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}.")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}.")
        c, h, w = (int(s) for s in image_shape)
        self.image_shape = (c, h, w)
        self.unflatten = nn.Unflatten(1, (c, h, w))
        self.layers = nn.ModuleList()
        for out_channels in channels:
            self.layers.append(TwoPathConv2d(c, int(out_channels), (h, w), kernel_size, paths))
            c = int(out_channels)
        self.activation = ACTIVATIONS[activation]()
        self.pool = readout == "pool"
        self.readout = nn.Linear(c if self.pool else c * h * w, n_outputs)

    def forward(self, x: Tensor) -> Tensor:
        """(N, n_outputs) outputs for flat inputs x (N, C*H*W)."""
        h = self.unflatten(x)
        for layer in self.layers:
            h = self.activation(layer(h))
        return self.readout(h.mean(dim=(2, 3)) if self.pool else h.flatten(1))

    def layer_inputs(self, x: Tensor) -> list[Tensor]:
        """The (N, C_in, H, W) input of every two-path layer for flat inputs x (no grad needed)."""
        inputs, h = [], self.unflatten(x)
        for layer in self.layers:
            inputs.append(h)
            h = self.activation(layer(h))
        return inputs
