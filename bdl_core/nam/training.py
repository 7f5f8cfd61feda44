"""Online marginal-likelihood training of an additive model (Immer et al., 2021; LA-NAM).

MAP steps (Adam on the parameters, loss = NLL + 0.5 theta^T P0 theta, per example) alternate
with hyperparameter steps (Adam on the log prior precisions of every term layer and, for
regression, the log noise) that maximise the Laplace evidence of
:class:`~bdl_core.nam.posterior.AdditivePosterior`. Every ``marglik_frequency`` epochs after
``burnin_epochs`` the K-FAC curvature is recomputed at the current parameters; the parameters
and hyperparameters with the best evidence seen are restored at the end.

The loop is the shared :func:`bdl_core.marglik.loop.run_online_marglik` and the hyperparameters
the shared :class:`bdl_core.hyperparameters.Hyperparameters` (prior: :class:`AdditivePrior`);
what is specific to the additive model is the posterior whose evidence is maximised (batched
per-subnetwork K-FAC, per-term priors, a Bernoulli likelihood with one logit).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from bdl_core.hyperparameters import Hyperparameters
from bdl_core.laplace.hyperparameter_tuning import maximise_evidence
from bdl_core.likelihood import check_likelihood
from bdl_core.marglik.cancellation import TrainingCancelled
from bdl_core.marglik.loop import BestState, LoopCallbacks, run_online_marglik

from .additive_model import AdditiveModel
from .curvature import kfac_curvature
from .posterior import AdditivePosterior, KronEigens
from .prior import AdditivePrior

__all__ = ["OnlineMarglikSettings", "TrainingCancelled", "train_online_marglik"]


@dataclass(frozen=True)
class OnlineMarglikSettings:
    """Settings of :func:`train_online_marglik`.

    Attributes:
        epochs: Passes over the data.
        batch_size: Examples per MAP step.
        lr: Adam learning rate of the parameters (cosine-decayed to ``lr * lr_min_factor``).
        lr_min_factor: Final learning rate as a fraction of ``lr``.
        lr_hyper: Adam learning rate of the log hyperparameters.
        hyper_steps: Hyperparameter steps per evidence update.
        marglik_frequency: Epochs between evidence updates.
        burnin_epochs: MAP-only epochs before the first evidence update.
        learn_hyperparameters: False trains by MAP with the priors (and noise) fixed.
        min_sigma: Floor of the regression noise std (on the standardised target scale).
        seed: Seeds the mini-batch order.
    """

    epochs: int = 200
    batch_size: int = 128
    lr: float = 3e-2
    lr_min_factor: float = 0.05
    lr_hyper: float = 0.1
    hyper_steps: int = 20
    marglik_frequency: int = 2
    burnin_epochs: int = 20
    learn_hyperparameters: bool = True
    min_sigma: float = 1e-3
    seed: int = 0


def train_online_marglik(
    model: AdditiveModel,
    prior: AdditivePrior,
    log_sigma: Tensor,
    X: Tensor,
    y: Tensor,
    likelihood: str,
    settings: OnlineMarglikSettings = OnlineMarglikSettings(),
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place and learn ``prior`` and ``log_sigma`` by marginal likelihood.

    Args:
        model: The additive model (trained in place).
        prior: Its :class:`AdditivePrior` (log precisions updated in place).
        log_sigma: () leaf tensor, log noise std (regression; updated in place).
        X: (N, D) inputs; y: (N,) targets.
        likelihood: ``"regression"`` or ``"classification"``.
        settings: :class:`OnlineMarglikSettings`.
        progress: Called after every epoch with ``(epoch, epochs, info)``; ``info`` holds
            ``loss`` and, on evidence epochs, ``log_marglik`` (per example) and ``sigma``.
        should_stop: Polled once per epoch; True raises :class:`TrainingCancelled`.

    Returns:
        History: one dict per evidence update (``epoch``, ``log_marglik`` per example, ``sigma``).
    """
    likelihood = check_likelihood(likelihood)
    n = X.shape[0]
    y = y.reshape(-1)
    hypers = Hyperparameters(prior, log_sigma, learn_sigma=likelihood.is_regression, min_sigma=settings.min_sigma,
                             log_sigma_is_tensor=True)
    params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=settings.lr)
    total_steps = settings.epochs * math.ceil(n / settings.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total_steps, eta_min=settings.lr * settings.lr_min_factor)
    hyper_optimizer = torch.optim.Adam(hypers.trainable(), lr=settings.lr_hyper)
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    history: list[dict[str, float]] = []

    def train_epoch(epoch: int) -> float:
        order = torch.randperm(n, generator=generator).to(X.device)
        epoch_loss = 0.0
        for start in range(0, n, settings.batch_size):
            index = order[start : start + settings.batch_size]
            optimizer.zero_grad(set_to_none=True)
            sigma = hypers.log_sigma.detach().exp()
            nll = likelihood.negative_log_likelihood(model(X[index]), y[index], sigma)
            loss = (nll * (n / index.numel()) + prior.penalty(model, fixed_precisions=True)) / n
            loss.backward()
            optimizer.step()
            schedule.step()
            epoch_loss += loss.item() * index.numel() / n
        return epoch_loss

    def evidence_due(epoch: int) -> bool:
        if not settings.learn_hyperparameters:
            return epoch == settings.epochs
        return epoch > settings.burnin_epochs and (
            (epoch - settings.burnin_epochs) % settings.marglik_frequency == 0 or epoch == settings.epochs)

    def update_evidence(epoch: int) -> float:
        eigens = KronEigens(kfac_curvature(model, X, y, likelihood))
        steps = settings.hyper_steps if settings.learn_hyperparameters else 0
        maximise_evidence(
            lambda: AdditivePosterior(eigens, prior, likelihood, hypers.log_sigma).log_marginal_likelihood(model) / n,
            hypers, steps, optimizer=hyper_optimizer, floor=settings.min_sigma, record=False)
        with torch.no_grad():
            lml = float(AdditivePosterior(eigens, prior, likelihood, hypers.log_sigma).log_marginal_likelihood(model)) / n
        history.append({"epoch": float(epoch), "log_marglik": lml, "sigma": float(hypers.log_sigma.detach().exp())})
        return lml

    def epoch_info(epoch: int, loss: float, updated: bool) -> dict[str, Any]:
        info: dict[str, Any] = {"loss": loss}
        if updated:
            info.update(log_marglik=history[-1]["log_marglik"], sigma=history[-1]["sigma"])
        return info

    def restore(snapshot: tuple[dict, dict]) -> None:
        model.load_state_dict(snapshot[0])
        hypers.restore(snapshot[1])

    run_online_marglik(settings.epochs, train_epoch, evidence_due, update_evidence,
                       callbacks=LoopCallbacks(progress=progress, should_stop=should_stop),
                       best=BestState(snapshot=lambda: (copy.deepcopy(model.state_dict()), hypers.snapshot()),
                                      restore=restore),
                       epoch_info=epoch_info, cancelled_history=lambda: history)
    return history
