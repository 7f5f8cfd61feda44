"""How much of each two-path layer is equivariant: the reported ``equivariant_share``.

For layer k with inputs x (from the training data, at the trained weights of the layers below) and
learned prior precisions delta (weight, bias) of each path, the PRIOR FUNCTION VARIANCE of a path is
the variance of one output unit under the prior, averaged over inputs and output units:

* conv path:  V_conv  = mean_{n,h,w} |patch_{n,h,w}|^2 / delta_conv_w + 1 / delta_conv_b
  (patch: the C_in*k*k zero-padded input values the unit at (h, w) sees),
* dense path: V_dense = mean_n |x_n|^2 / delta_dense_w + 1 / delta_dense_b  (all C_in*H*W inputs),

and ``equivariant_share = V_conv / (V_conv + V_dense)`` in [0, 1]. It is what the marginal
likelihood controls: the learned precisions set how large a function each path may carry, scaled by
how many inputs feed it (a dense unit sees H*W/k^2 times more inputs than a conv unit). A missing
path has variance 0 (share 1 for conv-only, 0 for dense-only).

``output_share`` is the same ratio for the trained weights themselves:
E|f_conv(x)|^2 / (E|f_conv(x)|^2 + E|f_dense(x)|^2), the share of the layer's output energy the
equivariant path produces at the MAP.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from bdl_core.curvature import ParameterLayout

from .network import TwoPathNetwork


@dataclass
class LayerShare:
    """One two-path layer's learned precisions and shares (plain floats, JSON-ready).

    Attributes:
        index: Layer index k (0 = the input layer).
        equivariant_share: V_conv / (V_conv + V_dense) (module docstring).
        output_share: The conv path's share of the trained layer's output energy.
        conv_precision, dense_precision: ``{"weight": ..., "bias": ...}`` learned prior precisions
            of each path (None for a missing path).
        conv_variance, dense_variance: V_conv and V_dense.
        conv_params, dense_params: Number of parameters of each path.
    """

    index: int
    equivariant_share: float
    output_share: float
    conv_precision: dict[str, float] | None
    dense_precision: dict[str, float] | None
    conv_variance: float
    dense_variance: float
    conv_params: int
    dense_params: int

    def to_dict(self) -> dict:
        """The fields as a dict."""
        return asdict(self)


def path_precisions(layout: ParameterLayout, prior_values: Tensor) -> dict[tuple[int, str], dict[str, float]]:
    """Map ``(layer index, path)`` to the ``{"weight", "bias"}`` precisions of a layerwise prior.

    Args:
        layout: Layout of a :class:`TwoPathNetwork` (subset ``"all"``).
        prior_values: (n_groups,) layerwise precisions in the layout's group order (or a 0-dim scalar).
    """
    values = prior_values.detach().reshape(-1)
    out: dict[tuple[int, str], dict[str, float]] = {}
    for position, group in enumerate(layout.groups):
        parts = group.module_name.split(".")
        if len(parts) != 3 or parts[0] != "layers" or parts[2] not in ("conv", "dense"):
            continue
        value = values[0] if values.numel() == 1 else values[position]
        out.setdefault((int(parts[1]), parts[2]), {})[group.kind] = float(value)
    return out


def _conv_patch_energy(layer, x: Tensor) -> Tensor:
    """() mean over examples and positions of |patch|^2 of the layer's convolution."""
    k = layer.kernel_size
    patches = F.unfold(x, k, padding=k // 2)  # (N, C_in*k*k, H*W)
    return patches.pow(2).sum(dim=1).mean()


@torch.no_grad()
def layer_shares(network: TwoPathNetwork, x: Tensor, precisions: dict[tuple[int, str], dict[str, float]]
                 ) -> list[LayerShare]:
    """The :class:`LayerShare` of every layer of ``network`` on flat inputs x (N, C*H*W)."""
    shares = []
    for index, (layer, inputs) in enumerate(zip(network.layers, network.layer_inputs(x))):
        variance, energy, counts = {"conv": 0.0, "dense": 0.0}, {"conv": 0.0, "dense": 0.0}, {}
        for path, output in layer.path_outputs(inputs).items():
            delta = precisions.get((index, path))
            if delta is None:
                raise ValueError(f"no prior precision for layer {index} path {path!r}")
            feed = _conv_patch_energy(layer, inputs) if path == "conv" else inputs.flatten(1).pow(2).sum(1).mean()
            variance[path] = float(feed / delta["weight"] + (1.0 / delta["bias"] if "bias" in delta else 0.0))
            energy[path] = float(output.pow(2).sum(dim=(1, 2, 3)).mean())
            counts[path] = sum(p.numel() for p in getattr(layer, path).parameters())
        total_var, total_energy = variance["conv"] + variance["dense"], energy["conv"] + energy["dense"]
        shares.append(LayerShare(
            index=index,
            equivariant_share=variance["conv"] / total_var if total_var > 0 else float("nan"),
            output_share=energy["conv"] / total_energy if total_energy > 0 else float("nan"),
            conv_precision=precisions.get((index, "conv")), dense_precision=precisions.get((index, "dense")),
            conv_variance=variance["conv"], dense_variance=variance["dense"],
            conv_params=counts.get("conv", 0), dense_params=counts.get("dense", 0)))
    return shares
