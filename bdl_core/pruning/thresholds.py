"""Turning scores into keep-masks at a target sparsity.

* Unstructured (:func:`global_keep_mask`): ONE threshold over all prunable entries of
  the network (so layers end up with different sparsities, as the scores dictate):
  exactly ``round(sparsity * n_prunable)`` lowest-scoring prunable entries are pruned;
  ties are broken by position so the result is deterministic.
* Structured (:func:`structured_keep_mask`): per hidden layer, the
  ``round(sparsity * n_units)`` lowest-scoring units (sum of their entries' scores)
  are removed, keeping at least one unit per layer; a removed unit loses its weight row
  (Linear) or filter (Conv2d) and its bias entry.

Both return a (P,) bool keep-vector in layout order; entries outside the prunable set
are always kept.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .prunable import PrunableParameters


def _check(scores: Tensor, sparsity: float, n: int) -> None:
    if not 0.0 < sparsity < 1.0:
        raise ValueError(f"sparsity must be in (0, 1), got {sparsity}.")
    if scores.shape != (n,):
        raise ValueError(f"Expected ({n},) scores, got {tuple(scores.shape)}.")
    if torch.isnan(scores).any():
        raise ValueError("Scores contain NaN.")


def global_keep_mask(scores: Tensor, sparsity: float, prunable: PrunableParameters) -> Tensor:
    """Keep-mask of unstructured pruning with one global threshold.

    Args:
        scores: (P,) per-parameter scores (higher = more important).
        sparsity: Fraction in (0, 1) of the prunable entries to zero.
        prunable: Which entries may be zeroed.

    Returns:
        (P,) bool, False for pruned entries.
    """
    _check(scores, sparsity, prunable.layout.n_params)
    keep = torch.ones_like(prunable.prunable)
    candidates = prunable.prunable.nonzero().squeeze(-1)
    n_pruned = int(round(sparsity * candidates.numel()))
    order = torch.argsort(scores[candidates], stable=True)
    keep[candidates[order[:n_pruned]]] = False
    return keep


def removed_units(scores: Tensor, sparsity: float, prunable: PrunableParameters) -> dict[str, Tensor]:
    """Per hidden layer, which output units structured pruning removes.

    Args:
        scores: (P,) per-parameter scores.
        sparsity: Fraction in (0, 1) of each layer's units to remove (at least one is kept).
        prunable: Unit membership.

    Returns:
        ``{module_name: (n_units,) bool}``, True for removed units.
    """
    _check(scores, sparsity, prunable.layout.n_params)
    unit_scores = prunable.unit_scores(scores)
    removed = {}
    for layer in prunable.unit_layers:
        layer_scores = unit_scores[layer.first_unit : layer.first_unit + layer.n_units]
        n_removed = min(int(round(sparsity * layer.n_units)), layer.n_units - 1)
        order = torch.argsort(layer_scores, stable=True)
        gone = torch.zeros(layer.n_units, dtype=torch.bool, device=scores.device)
        gone[order[:n_removed]] = True
        removed[layer.module_name] = gone
    return removed


def structured_keep_mask(scores: Tensor, sparsity: float, prunable: PrunableParameters) -> Tensor:
    """Keep-mask zeroing the rows / filters (and bias entries) of the removed units.

    Args:
        scores: (P,) per-parameter scores.
        sparsity: Fraction in (0, 1) of each hidden layer's units to remove.
        prunable: Unit membership.

    Returns:
        (P,) bool, False for entries of removed units.
    """
    removed = removed_units(scores, sparsity, prunable)
    gone_units = torch.cat([removed[layer.module_name] for layer in prunable.unit_layers])
    keep = torch.ones_like(prunable.prunable)
    inside = prunable.unit >= 0
    keep[inside] = ~gone_units[prunable.unit[inside]]
    return keep


def keep_units_from_mask(keep: Tensor, prunable: PrunableParameters) -> dict[str, Tensor]:
    """Recover the kept units of each hidden layer from a structured keep-mask.

    A unit counts as kept when any of its entries is kept.

    Args:
        keep: (P,) bool keep-mask.
        prunable: Unit membership.

    Returns:
        ``{module_name: (n_units,) bool}``, True for kept units.
    """
    inside = prunable.unit >= 0
    alive = torch.zeros(prunable.n_units, dtype=torch.long, device=keep.device)
    alive.index_add_(0, prunable.unit[inside], keep[inside].long())
    return {layer.module_name: alive[layer.first_unit : layer.first_unit + layer.n_units] > 0
            for layer in prunable.unit_layers}
