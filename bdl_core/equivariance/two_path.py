"""A layer with a soft, learnable amount of translation equivariance (van der Ouderaa et al. 2023).

:class:`TwoPathConv2d` maps (N, C_in, H, W) to (N, C_out, H, W) as the SUM of

* a translation-equivariant path: ``nn.Conv2d(C_in, C_out, k, padding=k // 2)`` (weights shared
  over positions, k*k*C_in*C_out + C_out parameters), and
* a free path: ``nn.Linear(C_in*H*W, C_out*H*W)`` on the flattened image, reshaped back (no
  constraint at all; it can express any linear map, including the convolution).

Each path is its own ``nn.Conv2d`` / ``nn.Linear`` module, so a ``"layerwise"`` prior
(:class:`bdl_core.priors.PriorPrecision`) gives each path's weight and bias its own prior precision
and K-FAC (:mod:`bdl_core.curvature.kron`) sees two ordinary layers. Marginal-likelihood training
then decides per layer how much of the function each path carries: a large learned precision on a
path shrinks it to zero, and in the limit the layer IS the other path (see the tests).

A path can be left out (``paths=("conv",)`` or ``("dense",)``) to build the fixed conv-only and
dense-only baselines with exactly the same code.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

PATHS = ("conv", "dense")


class TwoPathConv2d(nn.Module):
    """Sum of a same-padded convolution and a dense map on the flattened image.

    Args:
        in_channels, out_channels: C_in and C_out.
        image_size: (H, W) of the inputs (kept by the layer).
        kernel_size: Odd k of the convolution.
        paths: The paths present, a non-empty subset of ``("conv", "dense")``.

    Attributes:
        conv: The ``nn.Conv2d`` of the equivariant path, or None.
        dense: The ``nn.Linear`` of the free path, or None.
    """

    def __init__(self, in_channels: int, out_channels: int, image_size: Sequence[int], kernel_size: int = 3,
                 paths: Sequence[str] = PATHS) -> None:
        super().__init__()
        paths = tuple(paths)
        if not paths or any(p not in PATHS for p in paths) or len(set(paths)) != len(paths):
            raise ValueError(f"paths must be a non-empty subset of {PATHS}, got {paths!r}.")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}.")
        height, width = (int(s) for s in image_size)
        if height < 1 or width < 1:
            raise ValueError(f"image_size must be positive, got {tuple(image_size)}.")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.image_size = (height, width)
        self.kernel_size = kernel_size
        self.paths = paths
        self.conv = (nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
                     if "conv" in paths else None)
        self.dense = (nn.Linear(in_channels * height * width, out_channels * height * width)
                      if "dense" in paths else None)

    def path_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """Each present path's (N, C_out, H, W) output for inputs x (N, C_in, H, W)."""
        out = {}
        if self.conv is not None:
            out["conv"] = self.conv(x)
        if self.dense is not None:
            out["dense"] = self.dense(x.flatten(1)).view(x.shape[0], self.out_channels, *self.image_size)
        return out

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_out, H, W) sum of the paths' outputs for inputs x (N, C_in, H, W)."""
        outputs = list(self.path_outputs(x).values())
        total = outputs[0]
        for extra in outputs[1:]:
            total = total + extra
        return total

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, image_size={self.image_size}, "
                f"kernel_size={self.kernel_size}, paths={self.paths}")


@torch.no_grad()
def zero_path_(layer: TwoPathConv2d, path: str) -> None:
    """Set one path's weights and bias to zero in place (the MAP limit of an infinite prior precision)."""
    module = getattr(layer, path)
    if module is None:
        raise ValueError(f"the layer has no {path!r} path")
    for parameter in module.parameters():
        parameter.zero_()
