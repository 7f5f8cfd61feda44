"""Pruning of trained networks (SpaM, Dhahri et al. 2024, "Shaving Weights with Occam's Razor").

Scores (:mod:`.scores`: Optimal Posterior Damage from a Laplace posterior precision,
magnitude, random, SNIP, GraSP-style), global or per-layer structured thresholds
(:mod:`.thresholds`), masks that stay applied through further training (:mod:`.mask`),
masked fine-tuning (:mod:`.finetune`), genuinely smaller networks from structured
pruning (:mod:`.shrink`), parameter / FLOP counts (:mod:`.cost`) and
accuracy-versus-sparsity curves (:mod:`.curve`, plotted by :mod:`.plot`). All vectors are (P,) in
``ParameterLayout`` order, the order of the bdl_core posterior precisions.
"""

from .cost import NetworkCost, network_cost
from .curve import PrunedNetwork, prune_copy, pruning_curve
from .finetune import finetune_masked
from .mask import PruningMask
from .plot import plot_pruning_curves
from .prunable import PrunableParameters, UnitLayer
from .scores import (
    CRITERIA,
    compute_scores,
    grasp_scores,
    magnitude_scores,
    opd_scores,
    random_scores,
    snip_scores,
)
from .shrink import shrink_network
from .thresholds import global_keep_mask, keep_units_from_mask, removed_units, structured_keep_mask

__all__ = [
    "CRITERIA",
    "NetworkCost",
    "PrunableParameters",
    "PrunedNetwork",
    "PruningMask",
    "UnitLayer",
    "compute_scores",
    "finetune_masked",
    "global_keep_mask",
    "grasp_scores",
    "keep_units_from_mask",
    "magnitude_scores",
    "network_cost",
    "opd_scores",
    "plot_pruning_curves",
    "prune_copy",
    "pruning_curve",
    "random_scores",
    "removed_units",
    "shrink_network",
    "snip_scores",
    "structured_keep_mask",
]
