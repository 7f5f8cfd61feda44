"""Laplace-approximated neural additive models (LA-NAM; Bouchiat, Immer, Yèche, Rätsch, Fortuin 2024).

f(x) = b + sum_t f_t(x_t) with one small MLP per numerical feature (all evaluated by one
batched module), a one-dimensional embedding per categorical feature, and optional pairwise
terms. Training by online marginal likelihood learns a prior precision per layer of every
term's subnetwork (automatic relevance determination) and the regression noise; a batched
K-FAC Laplace posterior gives each shape function a credible band; feature pairs are ranked as
interaction candidates and the best ones added in a second stage.

Entry point: :func:`fit_lanam`.
"""

from .additive_model import AdditiveModel
from .batched_mlp import BatchedMLP
from .curvature import AdditiveCurvature, kfac_curvature
from .fitted import FittedAdditiveModel, new_fitted
from .interactions import RANKINGS, PairScore, rank_interactions
from .lanam import LaNamResult, LaNamSettings, extend_with_pairs, fit_lanam
from .posterior import AdditivePosterior, KronEigens
from .prior import AdditivePrior
from .shapes import ShapeFunction, TermImportance, feature_grid, shape_functions, term_importances
from .terms import Feature, Term, TermLayout
from .training import OnlineMarglikSettings, TrainingCancelled, train_online_marglik

__all__ = [
    "RANKINGS",
    "AdditiveCurvature",
    "AdditiveModel",
    "AdditivePosterior",
    "AdditivePrior",
    "BatchedMLP",
    "Feature",
    "FittedAdditiveModel",
    "KronEigens",
    "LaNamResult",
    "LaNamSettings",
    "OnlineMarglikSettings",
    "PairScore",
    "ShapeFunction",
    "Term",
    "TermImportance",
    "TermLayout",
    "TrainingCancelled",
    "extend_with_pairs",
    "feature_grid",
    "fit_lanam",
    "kfac_curvature",
    "new_fitted",
    "rank_interactions",
    "shape_functions",
    "term_importances",
    "train_online_marglik",
]
