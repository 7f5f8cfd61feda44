"""Online marginal-likelihood training of a two-path network: the one place that calls the
Laplace engine (:func:`bdl_core.marglik.train`), so an engine change is adapted here only.

The prior is ``"layerwise"``: every parameter tensor (each path's weight and bias, the read-out's)
gets its own precision, learned by K-FAC Laplace evidence steps between MAP epochs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from torch import nn

from .shares import LayerShare, layer_shares, path_precisions


@dataclass(frozen=True)
class EvidenceTraining:
    """Settings of :func:`train_by_evidence` (see :func:`bdl_core.marglik.train` for their meaning)."""

    epochs: int = 60
    lr: float = 1e-3
    lr_hyper: float = 0.1
    hyper_steps: int = 50
    marglik_frequency: int = 5
    burnin_epochs: int = 10
    prior_precision_init: float = 1.0
    kfac: str = "reduce"
    structure: str = "kron"


def train_by_evidence(network: nn.Module, loader: Iterable, settings: EvidenceTraining,
                      likelihood: str = "classification",
                      progress_callback: Callable[[int, int, dict], None] | None = None,
                      should_stop: Callable[[], bool] | None = None):
    """Train ``network`` in place with layerwise prior precisions learned by the Laplace evidence.

    Returns:
        (la, history): the fitted :class:`bdl_core.laplace.Laplace` at the returned weights and the
        :class:`bdl_core.marglik.MarglikHistory`. Raises :class:`bdl_core.marglik.TrainingCancelled`.
    """
    from bdl_core.marglik import train

    return train(network, loader, likelihood=likelihood, structure=settings.structure, prior="layerwise",
                 kfac=settings.kfac, epochs=settings.epochs, lr=settings.lr, lr_hyp=settings.lr_hyper,
                 n_epochs_burnin=settings.burnin_epochs, marglik_frequency=settings.marglik_frequency,
                 n_hypersteps=settings.hyper_steps, prior_prec_init=settings.prior_precision_init,
                 progress_callback=progress_callback, should_stop=should_stop)


def learned_shares(la, x) -> list[LayerShare]:
    """The :class:`LayerShare` of every layer of the Laplace's network, from its learned precisions."""
    return layer_shares(la.model, x, path_precisions(la.layout, la.prior_precision))
