"""Which parameters of a network pruning may remove, and how they group into units.

A :class:`PrunableParameters` maps the flat (P,) vector of a
:class:`~bdl_core.curvature.ParameterLayout` (the same order in which every Laplace
posterior precision indexes parameters) to

* ``prunable``: (P,) bool, the entries unstructured pruning may zero: weights and
  biases of ``nn.Linear`` / ``nn.Conv2d`` layers; the output layer (the last module
  owning parameters) only when ``include_output`` is set;
* ``unit``: (P,) long, for structured pruning the unit an entry belongs to (a Linear
  row or a conv output filter, together with its bias entry), -1 for entries of the
  output layer and of other modules. Output units are never removed: removing one
  would change what the network predicts, not only its size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bdl_core.curvature import ParameterLayout

PRUNABLE_TYPES = (nn.Linear, nn.Conv2d)


@dataclass(frozen=True)
class UnitLayer:
    """One layer whose output units structured pruning may remove.

    Attributes:
        module_name: Name in ``model.named_modules()``.
        n_units: Number of output units (Linear ``out_features`` / conv ``out_channels``).
        first_unit: Global id of its unit 0 (units of all layers are numbered consecutively).
    """

    module_name: str
    n_units: int
    first_unit: int


class PrunableParameters:
    """Prunable entries and unit membership over a layout's (P,) vector.

    Args:
        layout: The parameters (usually ``ParameterLayout(model, "all")``).
        include_output: Let unstructured pruning zero entries of the output layer
            (SpaM prunes every parameter; off by default so that every output keeps
            its connections). Structured pruning never removes output units.

    Attributes:
        layout: The layout.
        output_module: Name of the output layer (last module owning parameters).
        prunable: (P,) bool.
        unit: (P,) long unit id, -1 outside hidden Linear / Conv2d layers.
        unit_layers: The layers with removable units, in layout order.
        n_units: Total number of hidden units.
    """

    def __init__(self, layout: ParameterLayout, include_output: bool = False) -> None:
        self.layout = layout
        modules = dict(layout.model.named_modules())
        self.output_module = layout.modules()[-1][0]
        prunable = torch.zeros(layout.n_params, dtype=torch.bool, device=layout.device)
        unit = torch.full((layout.n_params,), -1, dtype=torch.long, device=layout.device)
        first_unit: dict[str, int] = {}
        layers: list[UnitLayer] = []
        for g in layout.groups:
            module = modules[g.module_name]
            if not isinstance(module, PRUNABLE_TYPES) or g.kind == "other":
                continue
            is_output = g.module_name == self.output_module
            if not is_output or include_output:
                prunable[g.slice] = True
            if is_output:
                continue
            n_out = g.shape[0]
            if g.module_name not in first_unit:
                first_unit[g.module_name] = sum(layer.n_units for layer in layers)
                layers.append(UnitLayer(g.module_name, n_out, first_unit[g.module_name]))
            ids = torch.arange(n_out, device=layout.device) + first_unit[g.module_name]
            per_unit = g.numel // n_out  # row-major: entries of unit i are contiguous
            unit[g.slice] = ids.repeat_interleave(per_unit)
        self.prunable = prunable
        self.unit = unit
        self.unit_layers = layers
        self.n_units = sum(layer.n_units for layer in layers)

    @property
    def n_prunable(self) -> int:
        """Number of entries unstructured pruning may zero."""
        return int(self.prunable.sum())

    def unit_scores(self, scores: Tensor) -> Tensor:
        """Score of every hidden unit: the sum of its entries' scores.

        Args:
            scores: (P,) per-parameter scores.

        Returns:
            (n_units,) unit scores, same dtype as ``scores``.
        """
        inside = self.unit >= 0
        out = scores.new_zeros(self.n_units)
        return out.index_add_(0, self.unit[inside], scores[inside])

    def __repr__(self) -> str:
        return (f"PrunableParameters(n_prunable={self.n_prunable}, n_units={self.n_units}, "
                f"output_module={self.output_module!r})")
