"""Online marginal-likelihood training of a network (Immer et al. 2021, Algorithm 1).

Network weights and hyperparameters (prior precisions, Gaussian noise) are learned
in one run, without validation data:

1. every epoch, MAP steps on ``-log p(D_b | theta) / B + theta^T P0 theta / (2 N)``
   with the CURRENT hyperparameters held fixed (:mod:`.map_objective`);
2. after ``n_epochs_burnin`` epochs and then every ``marglik_frequency`` epochs, a
   Laplace approximation is fitted at the current weights and ``n_hypersteps`` Adam
   steps on the log hyperparameters maximise its log marginal likelihood (or, with
   ``marglik_batch_size``, an unbiased mini-batch estimate of the partition lower
   bound of Immer et al. 2023, see :mod:`.bounds`).

Written here instead of using laplace-torch's ``marglik_training`` because ``bdl_core``
is pure PyTorch (no ASDL/BackPACK backends) and the service needs per-epoch progress
callbacks and cooperative cancellation.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from bdl_core.curvature import ParameterLayout
from bdl_core.laplace import Laplace, MapDataFit
from bdl_core.priors import PriorPrecision

from .bounds import MODES, block_log_determinant
from .cancellation import TrainingCancelled
from .history import MarglikHistory
from .map_objective import map_objective

OPTIMIZERS = ("adam", "sgd")


def _batches_to_model(loader: Iterable, dtype: torch.dtype, device: torch.device, likelihood: str):
    """Yield the loader's (X, y) batches on the model's device, X (and regression y) in its dtype."""
    for X, y in loader:
        X = X.to(device=device, dtype=dtype) if X.is_floating_point() else X.to(device)
        y = y.to(device=device, dtype=dtype) if likelihood == "regression" else y.to(device).long()
        yield X, y


def _make_optimizer(name: str, params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}.")


class _Hyperparameters:
    """Learnable log prior precisions (a :class:`PriorPrecision`) and log sigma."""

    def __init__(self, layout: ParameterLayout, prior: str, prior_prec_init: float,
                 likelihood: str, sigma_noise_init: float, learn_sigma: bool) -> None:
        self.prior = PriorPrecision(layout, prior, init=prior_prec_init)
        sigma0 = sigma_noise_init if likelihood == "regression" else 1.0
        self.log_sigma = nn.Parameter(torch.tensor(math.log(sigma0), dtype=layout.dtype,
                                                   device=layout.device))
        self.trainable = [self.prior.log_precision]
        if likelihood == "regression" and learn_sigma:
            self.trainable.append(self.log_sigma)

    def values(self) -> tuple[Tensor, Tensor]:
        """Detached (n_hyper,) prior hyperparameter values and () sigma."""
        return self.prior.hyperparameters().detach().clone(), self.log_sigma.detach().exp()

    @torch.no_grad()
    def load(self, prior_values: Tensor, sigma: Tensor) -> None:
        self.prior.log_precision.copy_(prior_values.log())
        self.log_sigma.copy_(sigma.log())


def _dataset_size(loader: Iterable) -> int:
    """N: ``len(loader.dataset)`` when available, else counted in one pass over the loader."""
    dataset = getattr(loader, "dataset", None)
    if dataset is not None and hasattr(dataset, "__len__"):
        return len(dataset)
    n = sum(int(y.shape[0]) for _, y in loader)
    if n == 0:
        raise ValueError("The loader yielded no data.")
    return n


def _collect(loader: Iterable, dtype, device, likelihood) -> tuple[Tensor, Tensor]:
    """All (X, y) of the loader concatenated (for the mini-batch evidence bound)."""
    xs, ys = zip(*_batches_to_model(loader, dtype, device, likelihood))
    return torch.cat(xs), torch.cat(ys)


def _bound_hypersteps(model, layout, likelihood, hyper: _Hyperparameters, optimizer,
                      data: tuple[Tensor, Tensor], data_fit: MapDataFit, n_steps: int,
                      batch_size: int, mode: str, generator) -> float:
    """Adam steps on an unbiased mini-batch estimate of the partition evidence bound.

    Each step draws B examples uniformly without replacement and uses
    ``log p(D | theta*) - 1/2 theta*^T P0 theta* - (N / B) / 2 * logdet(block)``.
    Returns the estimate at the last step.
    """
    X, _ = data
    n = X.shape[0]
    theta = layout.vector()
    value = float("nan")
    for _ in range(n_steps):
        idx = torch.randperm(n, generator=generator)[:batch_size].to(X.device)
        optimizer.zero_grad()
        prior_diagonal, sigma = hyper.prior.diagonal(), hyper.log_sigma.exp()
        scale = sigma.pow(-2) if likelihood == "regression" else 1.0
        _, logdet = block_log_determinant(model, layout, likelihood, X[idx], prior_diagonal,
                                          scale, mode)
        scatter = (prior_diagonal * theta.pow(2)).sum()
        lml = data_fit.log_likelihood(sigma) - 0.5 * (n / idx.numel() * logdet + scatter)
        (-lml).backward()
        optimizer.step()
        value = lml.item()
    return value


def train(
    model: nn.Module,
    loader: Iterable,
    likelihood: str = "regression",
    structure: str = "kron",
    prior: str = "layerwise",
    subset: str = "all",
    kfac: str = "expand",
    epochs: int = 100,
    lr: float = 1e-3,
    optimizer: str = "adam",
    lr_hyp: float = 0.1,
    n_epochs_burnin: int = 10,
    marglik_frequency: int = 5,
    n_hypersteps: int = 50,
    sigma_noise_init: float = 1.0,
    prior_prec_init: float = 1.0,
    learn_sigma: bool = True,
    early_stopping: bool = False,
    patience: int = 5,
    marglik_batch_size: int | None = None,
    bound: str = "batch",
    generator: torch.Generator | None = None,
    progress_callback: Callable[[int, int, dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Laplace, MarglikHistory]:
    """Train ``model`` and its hyperparameters by the Laplace marginal likelihood.

    Args:
        model: Network mapping (B, *in_shape) to (B, C) (logits for classification);
            trained in place. It must treat examples independently (no batch norm).
        loader: Re-iterable source of ``(X, y)`` mini-batches (e.g. a ``DataLoader``);
            y is (B, C) / (B,) float for regression, (B,) class indices otherwise.
        likelihood: ``"regression"`` or ``"classification"``.
        structure: Laplace structure for the evidence: ``"kron"``, ``"diag"``,
            ``"full"`` or ``"function"``.
        prior: Prior structure ``"scalar"``, ``"layerwise"``, ``"unitwise"`` or
            ``"parameter"`` (see :class:`bdl_core.priors.PriorPrecision`).
        subset: ``"all"`` or ``"last_layer"``; with ``"last_layer"`` the other weights
            are regularised by the fixed precision ``prior_prec_init``.
        kfac: K-FAC flavour for ``"kron"``.
        epochs: Number of epochs.
        lr: Learning rate of the network optimiser.
        optimizer: ``"adam"`` or ``"sgd"`` (momentum 0.9) for the weights.
        lr_hyp: Adam learning rate of the log hyperparameters.
        n_epochs_burnin: No marglik step before this epoch.
        marglik_frequency: Marglik step at every epoch e (1-based) with
            ``e >= n_epochs_burnin`` and ``e % marglik_frequency == 0``.
        n_hypersteps: Adam steps on the hyperparameters per marglik step.
        sigma_noise_init: Initial Gaussian noise std (regression).
        prior_prec_init: Initial prior precision of every parameter.
        learn_sigma: Learn sigma by marglik (regression), else keep ``sigma_noise_init``.
        early_stopping: Stop after ``patience`` marglik steps without a new best log
            marginal likelihood, and restore the weights and hyperparameters of the best
            one. Without it the final state is returned.
        patience: Marglik steps without improvement before stopping.
        marglik_batch_size: None: hyperparameter steps on the exact evidence of the
            fitted ``structure``. An int B: on the mini-batch estimate of the
            function-space partition lower bound (Immer et al. 2023), recomputing
            Jacobians of B random examples per step (any ``structure``; it is then only
            used for the returned Laplace).
        bound: Partition of the bound, ``"batch"`` or ``"output"`` (see :mod:`.bounds`).
        generator: Random generator for the bound's mini-batches.
        progress_callback: Called once per epoch as ``progress_callback(epoch, epochs,
            info)`` with ``info`` keys ``loss``, ``marglik_step`` (bool),
            ``log_marginal_likelihood`` (latest or None), ``prior_precision_mean``,
            ``sigma_noise``.
        should_stop: Checked once per epoch before it starts; returning True raises
            :class:`TrainingCancelled`.

    Returns:
        la: :class:`~bdl_core.laplace.Laplace` of ``structure`` fitted on ``loader`` at
            the returned weights with the learned hyperparameters (``la.model`` is the
            trained network).
        history: :class:`MarglikHistory`.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}.")
    if bound not in MODES:
        raise ValueError(f"bound must be one of {MODES}, got {bound!r}.")
    if marglik_frequency < 1 or patience < 1:
        raise ValueError("marglik_frequency and patience must be positive.")
    layout = ParameterLayout(model, subset)
    dtype, device = layout.dtype, layout.device
    hyper = _Hyperparameters(layout, prior, prior_prec_init, likelihood, sigma_noise_init, learn_sigma)
    selected = {id(p) for p in layout.parameters()}
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in selected]
    net_opt = _make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad], lr)
    hyp_opt = torch.optim.Adam(hyper.trainable, lr=lr_hyp)
    n_data = _dataset_size(loader)

    def make_laplace() -> Laplace:
        prior_values, sigma = hyper.values()
        return Laplace(model, likelihood, structure=structure, subset=subset, kfac=kfac,
                       prior=prior, prior_precision=prior_values, sigma_noise=sigma)

    history = MarglikHistory()
    best: tuple[dict, Tensor, Tensor] | None = None
    since_best = 0
    la: Laplace | None = None  # fitted at the current weights, or None
    bound_data: tuple[Tensor, Tensor] | None = None
    lml_latest: float | None = None
    for epoch in range(1, epochs + 1):
        if should_stop is not None and should_stop():
            raise TrainingCancelled(epoch, history)
        model.train()
        prior_diagonal, sigma = hyper.prior.diagonal().detach(), hyper.log_sigma.detach().exp()
        total, seen = 0.0, 0
        for X, y in _batches_to_model(loader, dtype, device, likelihood):
            net_opt.zero_grad()
            f = model(X)
            f = f.reshape(f.shape[0], -1)
            theta = nn.utils.parameters_to_vector(layout.parameters())
            loss = map_objective(f, y, theta, prior_diagonal, n_data, likelihood, sigma)
            if others:
                extra = nn.utils.parameters_to_vector(others)
                loss = loss + 0.5 * prior_prec_init * extra.pow(2).sum() / n_data
            loss.backward()
            net_opt.step()
            total += loss.item() * f.shape[0]
            seen += f.shape[0]
        history.loss.append(total / max(seen, 1))
        la = None

        marglik_step = epoch >= n_epochs_burnin and epoch % marglik_frequency == 0
        if marglik_step:
            model.eval()
            if marglik_batch_size is None:
                la = make_laplace().fit(loader)
                for _ in range(n_hypersteps):
                    hyp_opt.zero_grad()
                    lml = la.log_marginal_likelihood(hyper.prior.hyperparameters(),
                                                     hyper.log_sigma.exp())
                    (-lml).backward()
                    hyp_opt.step()
                prior_values, sigma = hyper.values()
                la.prior_precision = prior_values
                if likelihood == "regression":
                    la.sigma_noise = sigma
                with torch.no_grad():
                    lml_latest = la.log_marginal_likelihood().item()
            else:
                if bound_data is None:
                    bound_data = _collect(loader, dtype, device, likelihood)
                data_fit = MapDataFit(likelihood)
                with torch.no_grad():
                    f_all = model(bound_data[0])
                data_fit.add_batch(f_all.reshape(f_all.shape[0], -1), bound_data[1])
                lml_latest = _bound_hypersteps(model, layout, likelihood, hyper, hyp_opt,
                                               bound_data, data_fit, n_hypersteps,
                                               marglik_batch_size, bound, generator)
            diag = hyper.prior.diagonal().detach()
            history.marglik_epochs.append(epoch)
            history.log_marginal_likelihood.append(lml_latest)
            history.prior_precision_mean.append(diag.mean().item())
            history.prior_precision_min.append(diag.min().item())
            history.prior_precision_max.append(diag.max().item())
            history.sigma_noise.append(hyper.log_sigma.exp().item())
            if history.best_log_marginal_likelihood is None or lml_latest > history.best_log_marginal_likelihood:
                history.best_log_marginal_likelihood, history.best_epoch = lml_latest, epoch
                if early_stopping:
                    best = (copy.deepcopy(model.state_dict()), *hyper.values())
                since_best = 0
            else:
                since_best += 1

        if progress_callback is not None:
            progress_callback(epoch, epochs, {
                "loss": history.loss[-1],
                "marglik_step": marglik_step,
                "log_marginal_likelihood": lml_latest,
                "prior_precision_mean": hyper.prior.diagonal().detach().mean().item(),
                "sigma_noise": hyper.log_sigma.exp().item(),
            })
        if early_stopping and marglik_step and since_best >= patience:
            history.stopped_early = epoch < epochs
            break

    if early_stopping and best is not None and history.best_epoch != history.epochs_run:
        model.load_state_dict(best[0])
        hyper.load(best[1], best[2])
        la = None
    history.restored_best = early_stopping and best is not None
    if la is None:
        model.eval()
        la = make_laplace().fit(loader)
    model.eval()
    return la, history
