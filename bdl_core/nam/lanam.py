"""The two-stage LA-NAM fit: first-order terms, interaction ranking, then top pairs added.

Stage 1 trains one subnetwork per feature by online marginal likelihood. The feature pairs
are then ranked (:func:`~bdl_core.nam.interactions.rank_interactions`); with
``interactions = k > 0`` the k best pairs are added as two-input subnetworks and training
continues (stage 2) from the stage-1 parameters and hyperparameters: existing terms keep
their weights and prior precisions, the regression noise is kept, and every new pair network
starts with a zero output layer so the stage-1 fit is unchanged at the start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from .additive_model import AdditiveModel
from .fitted import FittedAdditiveModel, new_fitted
from .interactions import PairScore, rank_interactions
from .terms import Feature, Term
from .training import OnlineMarglikSettings, train_online_marglik


@dataclass(frozen=True)
class LaNamSettings:
    """Settings of :func:`fit_lanam`.

    Attributes:
        hidden: Hidden widths of every MLP subnetwork.
        activation: Their activation.
        training: Online marglik settings of stage 1 (and stage 2 unless ``interaction_epochs``).
        interactions: Number k of top-ranked pairs added in stage 2 (0: no second stage).
        ranking: ``"marglik"`` or ``"mutinf"``.
        interaction_epochs: Epochs of stage 2 (None: ``training.epochs``).
        prior_init: Initial prior precision of every subnetwork layer.
        seed: Seeds initialisation and mini-batches.
    """

    hidden: tuple[int, ...] = (64,)
    activation: str = "gelu"
    training: OnlineMarglikSettings = field(default_factory=OnlineMarglikSettings)
    interactions: int = 0
    ranking: str = "marglik"
    interaction_epochs: int | None = None
    prior_init: float = 1.0
    seed: int = 0


@dataclass
class LaNamResult:
    """Outcome of :func:`fit_lanam`.

    Attributes:
        fitted: The final model (stage 2 when pairs were added, else stage 1).
        first_stage: The stage-1 model.
        ranking: All candidate pairs by decreasing score.
        ranking_matrix: (D, D) symmetric score matrix.
        added_pairs: The pairs added in stage 2.
        history: ``{"stage1": [...], "stage2": [...]}`` evidence histories.
    """

    fitted: FittedAdditiveModel
    first_stage: FittedAdditiveModel
    ranking: list[PairScore]
    ranking_matrix: Tensor
    added_pairs: list[tuple[int, int]]
    history: dict[str, list[dict[str, float]]]


def fit_lanam(
    X: Tensor,
    y: Tensor,
    features: list[Feature],
    likelihood: str,
    settings: LaNamSettings = LaNamSettings(),
    progress: Callable[[str, int, int, dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> LaNamResult:
    """Fit an LA-NAM.

    Args:
        X: (N, D) inputs (numerical columns standardised, categorical ones as codes).
        y: (N,) targets: standardised real values, or labels in {0, 1}.
        features: The D column descriptions.
        likelihood: ``"regression"`` or ``"classification"``.
        settings: :class:`LaNamSettings`.
        progress: Called as ``progress(stage, epoch, epochs, info)`` after every epoch.
        should_stop: Polled once per epoch (True raises ``TrainingCancelled``).

    Returns:
        :class:`LaNamResult`.
    """
    y = y.reshape(-1)
    model = AdditiveModel(features, hidden=list(settings.hidden), activation=settings.activation,
                          dtype=X.dtype, device=X.device, seed=settings.seed)
    first = new_fitted(model, likelihood, prior_init=settings.prior_init)
    stage1 = train_online_marglik(
        first.model, first.prior, first.log_sigma, X, y, likelihood, replace(settings.training, seed=settings.seed),
        progress=None if progress is None else lambda e, n, info: progress("stage1", e, n, info),
        should_stop=should_stop)
    first.refresh(X, y)
    history = {"stage1": stage1, "stage2": []}
    if len(features) < 2:
        return LaNamResult(first, first, [], X.new_zeros(len(features), len(features)), [], history)
    ranking, matrix = rank_interactions(first, X, y, method=settings.ranking)
    pairs = [(p.i, p.j) for p in ranking[: settings.interactions]]
    if not pairs:
        return LaNamResult(first, first, ranking, matrix, [], history)
    second = extend_with_pairs(first, pairs, seed=settings.seed + 1)
    stage2_settings = replace(settings.training, seed=settings.seed + 1,
                              epochs=settings.interaction_epochs or settings.training.epochs, burnin_epochs=0)
    history["stage2"] = train_online_marglik(
        second.model, second.prior, second.log_sigma, X, y, likelihood, stage2_settings,
        progress=None if progress is None else lambda e, n, info: progress("stage2", e, n, info),
        should_stop=should_stop)
    second.refresh(X, y)
    return LaNamResult(second, first, ranking, matrix, pairs, history)


@torch.no_grad()
def extend_with_pairs(fitted: FittedAdditiveModel, pairs: list[tuple[int, int]], seed: int = 0) -> FittedAdditiveModel:
    """A copy of ``fitted`` with pair terms appended (warm start for the second stage).

    Args:
        fitted: The first-stage model.
        pairs: Feature pairs (i, j) to add as two-input terms.
        seed: Seeds the new subnetworks' hidden layers.

    Returns:
        A new :class:`FittedAdditiveModel` (no posterior yet) with the old terms' parameters and
        precisions copied, the noise copied and zero output weights/cells for the new terms.
    """
    old = fitted.model
    new_terms = [Term(tuple(sorted(p))) for p in pairs if Term(tuple(sorted(p))) not in old.terms]
    model = AdditiveModel(old.features, old.terms + new_terms, hidden=old.hidden, activation=old.activation,
                          dtype=old.intercept.dtype, device=old.intercept.device, seed=seed)
    model.intercept.copy_(old.intercept)
    g_old = {t: g for g, t in enumerate(old.layout.mlp_terms)}
    g_new = {t: g for g, t in enumerate(model.layout.mlp_terms)}
    if model.mlp is not None:
        width = old.layout.in_width
        for t in range(len(old.terms), model.n_terms):
            if t in g_new:
                model.mlp.weights[-1][g_new[t]].zero_()
        for t, g in g_old.items():
            for l in range(model.mlp.n_layers):
                if l == 0:
                    model.mlp.weights[0][g_new[t], :, :width] = old.mlp.weights[0][g]
                    model.mlp.weights[0][g_new[t], :, width:] = 0.0
                else:
                    model.mlp.weights[l][g_new[t]] = old.mlp.weights[l][g]
                if model.mlp.layer_has_bias(l):
                    model.mlp.biases[l][g_new[t]] = old.mlp.biases[l][g]
    if old.table is not None:
        n_old = old.table.numel()  # old tables come first and keep their layout
        model.table[:n_old] = old.table
    result = new_fitted(model, fitted.likelihood)
    result.prior.copy_terms_from(fitted.prior, {t: t for t in range(old.n_terms)})
    result.prior.intercept_precision = fitted.prior.intercept_precision
    result.log_sigma.copy_(fitted.log_sigma.detach())
    return result
