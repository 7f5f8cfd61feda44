"""Accuracy-versus-sparsity curves: prune a trained network at many sparsities per criterion.

For every criterion and target sparsity a COPY of the trained network is pruned (one
global threshold, or per-layer unit removal when ``structured``), optionally
fine-tuned with the mask held, and evaluated by a caller-supplied function; structured
results are evaluated and costed on the genuinely smaller network.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from bdl_core.curvature import ParameterLayout

from .cost import NetworkCost, network_cost
from .mask import PruningMask
from .prunable import PrunableParameters
from .shrink import shrink_network
from .thresholds import global_keep_mask, keep_units_from_mask, structured_keep_mask

Evaluate = Callable[[nn.Module], Mapping[str, float]]
Finetune = Callable[[nn.Module, PruningMask], None]


@dataclass
class PrunedNetwork:
    """One pruned copy of a network.

    Attributes:
        network: The masked copy (same architecture, pruned entries zero).
        mask: Its :class:`PruningMask`.
        small: Structured pruning: the smaller network with the same outputs; else None.
    """

    network: nn.Module
    mask: PruningMask
    small: nn.Sequential | None = None

    @property
    def deployed(self) -> nn.Module:
        """The network one would ship: the smaller one when structured, else the masked one."""
        return self.small if self.small is not None else self.network


def prune_copy(model: nn.Module, scores: Tensor, sparsity: float, *, structured: bool = False,
               include_output: bool = False, finetune: Finetune | None = None) -> PrunedNetwork:
    """Prune a copy of ``model`` (all trainable parameters in ``named_parameters`` order).

    Args:
        model: The trained network (unchanged).
        scores: (P,) scores in ``ParameterLayout(model)`` order.
        sparsity: Target in (0, 1): the fraction of prunable entries (unstructured) or of
            each hidden layer's units (structured) to remove.
        structured: Remove whole units instead of single entries.
        include_output: Unstructured only: the output layer's entries may be pruned too.
        finetune: Called as ``finetune(network, mask)`` after masking (the mask is
            re-applied afterwards whatever it does).

    Returns:
        A :class:`PrunedNetwork`.
    """
    network = copy.deepcopy(model)
    layout = ParameterLayout(network)
    prunable = PrunableParameters(layout, include_output=include_output and not structured)
    scores = scores.to(device=layout.device)
    keep = (structured_keep_mask if structured else global_keep_mask)(scores, sparsity, prunable)
    mask = PruningMask(layout, keep)
    mask.apply_()
    if finetune is not None:
        finetune(network, mask)
        mask.apply_()
    network.eval()
    small = None
    if structured:
        small = shrink_network(network, keep_units_from_mask(keep, prunable)).eval()
    return PrunedNetwork(network, mask, small)


def pruning_curve(
    model: nn.Module,
    scores: Mapping[str, Tensor],
    sparsities: Sequence[float],
    evaluate: Evaluate,
    example: Tensor,
    *,
    structured: bool = False,
    include_output: bool = False,
    finetune: Finetune | None = None,
    on_pruned: Callable[[str, float, PrunedNetwork], None] | None = None,
) -> list[dict[str, float | str | int]]:
    """Held-out metrics and cost of the network pruned by each criterion at each sparsity.

    Args:
        model: The trained network (unchanged).
        scores: ``{criterion: (P,) scores}`` in ``ParameterLayout(model)`` order.
        sparsities: Targets in (0, 1).
        evaluate: Maps a network to its held-out metrics (e.g. ``{"accuracy": ...}``).
        example: (1, *in_shape) input for the FLOP count.
        structured, include_output, finetune: As for :func:`prune_copy`.
        on_pruned: Called as ``on_pruned(criterion, sparsity, pruned)`` for every result
            (e.g. to save weights).

    Returns:
        One row per criterion and sparsity: ``criterion``, ``sparsity`` (target),
        ``parameter_sparsity`` (removed or zero fraction of all the original network's
        parameters), the :class:`NetworkCost` fields of the deployed network, and the
        metrics.
    """
    total = sum(p.numel() for p in model.parameters())
    rows: list[dict[str, float | str | int]] = []
    for criterion, criterion_scores in scores.items():
        for sparsity in sparsities:
            pruned = prune_copy(model, criterion_scores, sparsity, structured=structured,
                                include_output=include_output, finetune=finetune)
            deployed = pruned.deployed
            cost: NetworkCost = network_cost(deployed, example)
            rows.append({
                "criterion": criterion,
                "sparsity": float(sparsity),
                "parameter_sparsity": 1.0 - cost.n_nonzero / total,
                **cost.as_dict(),
                **{key: float(value) for key, value in evaluate(deployed).items()},
            })
            if on_pruned is not None:
                on_pruned(criterion, float(sparsity), pruned)
    return rows
