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
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from bdl_core.curvature import ParameterLayout
from bdl_core.hyperparameters import Hyperparameters
from bdl_core.laplace import Laplace, LaplacePosterior, MapDataFit
from bdl_core.laplace.hyperparameter_tuning import maximise_evidence
from bdl_core.likelihood import Likelihood
from bdl_core.priors import PriorPrecision

from .bounds import MODES, block_log_determinant
from .history import MarglikHistory
from .loop import BestState, LoopCallbacks, run_online_marglik
from .map_objective import map_objective

OPTIMIZERS = ("adam", "sgd")


def _batches_to_model(loader: Iterable, dtype: torch.dtype, device: torch.device, likelihood: Likelihood):
    """Yield the loader's (X, y) batches on the model's device, X (and regression y) in its dtype."""
    for X, y in loader:
        X = X.to(device=device, dtype=dtype) if X.is_floating_point() else X.to(device)
        yield X, likelihood.targets(y, dtype, device)


def _make_optimizer(name: str | type[torch.optim.Optimizer], params: list[nn.Parameter],
                    lr: float) -> torch.optim.Optimizer:
    """``name`` ``"adam"``, ``"sgd"`` (momentum 0.9), or any optimiser class called as ``cls(params, lr=lr)``."""
    if isinstance(name, type) and issubclass(name, torch.optim.Optimizer):
        return name(params, lr=lr)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}.")


def _hyperparameters(layout: ParameterLayout, prior: str, prior_prec_init: float, likelihood: Likelihood,
                     sigma_noise_init: float, learn_sigma: bool) -> Hyperparameters:
    """Learnable log prior precisions (a :class:`PriorPrecision`) and log sigma (regression)."""
    sigma0 = sigma_noise_init if likelihood.is_regression else 1.0
    return Hyperparameters(PriorPrecision(layout, prior, init=prior_prec_init), sigma0,
                           learn_sigma=likelihood.is_regression and learn_sigma)


def _values(hyper: Hyperparameters) -> tuple[Tensor, Tensor]:
    """Detached (n_hyper,) prior hyperparameter values and () sigma."""
    return hyper.prior.hyperparameters().detach().clone(), hyper.log_sigma.detach().exp()


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


def _bound_hypersteps(model, layout, likelihood: Likelihood, hyper: Hyperparameters, optimizer,
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

    def estimate() -> Tensor:
        idx = torch.randperm(n, generator=generator)[:batch_size].to(X.device)
        prior_diagonal, sigma = hyper.prior.diagonal(), hyper.log_sigma.exp()
        scale = likelihood.curvature_scale(sigma)
        _, logdet = block_log_determinant(model, layout, likelihood, X[idx], prior_diagonal,
                                          scale, mode)
        scatter = (prior_diagonal * theta.pow(2)).sum()
        return data_fit.log_likelihood(sigma) - 0.5 * (n / idx.numel() * logdet + scatter)

    trace = maximise_evidence(estimate, hyper, n_steps, optimizer=optimizer)
    return trace[-1] if trace else float("nan")


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
    optimizer: str | type[torch.optim.Optimizer] = "adam",
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
) -> tuple[LaplacePosterior, MarglikHistory]:
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
        optimizer: ``"adam"``, ``"sgd"`` (momentum 0.9), or a ``torch.optim.Optimizer`` class
            (called as ``cls(params, lr=lr)``) for the weights.
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
    if not isinstance(optimizer, type) and optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}.")
    if bound not in MODES:
        raise ValueError(f"bound must be one of {MODES}, got {bound!r}.")
    if marglik_frequency < 1 or patience < 1:
        raise ValueError("marglik_frequency and patience must be positive.")
    likelihood = Likelihood.of(likelihood)
    layout = ParameterLayout(model, subset)
    dtype, device = layout.dtype, layout.device
    hyper = _hyperparameters(layout, prior, prior_prec_init, likelihood, sigma_noise_init, learn_sigma)
    selected = {id(p) for p in layout.parameters()}
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in selected]
    net_opt = _make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad], lr)
    hyp_opt = torch.optim.Adam(hyper.trainable(), lr=lr_hyp)
    n_data = _dataset_size(loader)

    def make_laplace() -> LaplacePosterior:
        prior_values, sigma = _values(hyper)
        return Laplace(model, likelihood, structure=structure, subset=subset, kfac=kfac,
                       prior=prior, prior_precision=prior_values, sigma_noise=sigma)

    history = MarglikHistory()
    state: dict = {"la": None, "bound_data": None, "lml": None}  # la: fitted at the current weights

    def train_epoch(epoch: int) -> float:
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
        state["la"] = None
        return history.loss[-1]

    def update_evidence(epoch: int) -> float:
        model.eval()
        if marglik_batch_size is None:
            la = make_laplace().fit(loader)
            maximise_evidence(lambda: la.log_marginal_likelihood(hyper.prior.hyperparameters(), hyper.log_sigma.exp()),
                              hyper, n_hypersteps, optimizer=hyp_opt, record=False)
            prior_values, sigma = _values(hyper)
            la.prior_precision = prior_values
            if likelihood.is_regression:
                la.sigma_noise = sigma
            with torch.no_grad():
                state["lml"] = la.log_marginal_likelihood().item()
            state["la"] = la
        else:
            if state["bound_data"] is None:
                state["bound_data"] = _collect(loader, dtype, device, likelihood)
            bound_data = state["bound_data"]
            data_fit = MapDataFit(likelihood)
            with torch.no_grad():
                f_all = model(bound_data[0])
            data_fit.add_batch(f_all.reshape(f_all.shape[0], -1), bound_data[1])
            state["lml"] = _bound_hypersteps(model, layout, likelihood, hyper, hyp_opt, bound_data, data_fit,
                                             n_hypersteps, marglik_batch_size, bound, generator)
        diag = hyper.prior.diagonal().detach()
        history.marglik_epochs.append(epoch)
        history.log_marginal_likelihood.append(state["lml"])
        history.prior_precision_mean.append(diag.mean().item())
        history.prior_precision_min.append(diag.min().item())
        history.prior_precision_max.append(diag.max().item())
        history.sigma_noise.append(hyper.log_sigma.exp().item())
        return state["lml"]

    def epoch_info(epoch: int, loss: float, updated: bool) -> dict:
        return {"loss": loss, "marglik_step": updated, "log_marginal_likelihood": state["lml"],
                "prior_precision_mean": hyper.prior.diagonal().detach().mean().item(),
                "sigma_noise": hyper.log_sigma.exp().item()}

    def restore(snapshot: tuple[dict, dict]) -> None:
        model.load_state_dict(snapshot[0])
        hyper.restore(snapshot[1])
        state["la"] = None

    keep_best = BestState(snapshot=lambda: (copy.deepcopy(model.state_dict()), hyper.snapshot()),
                          restore=restore, patience=patience) if early_stopping else None
    record = run_online_marglik(
        epochs, train_epoch,
        evidence_due=lambda epoch: epoch >= n_epochs_burnin and epoch % marglik_frequency == 0,
        update_evidence=update_evidence,
        callbacks=LoopCallbacks(progress=progress_callback, should_stop=should_stop),
        best=keep_best, epoch_info=epoch_info, cancelled_history=lambda: history)
    history.best_epoch, history.best_log_marginal_likelihood = record.best_epoch, record.best_evidence
    history.stopped_early, history.restored_best = record.stopped_early, record.restored_best
    la = state["la"]
    if la is None:
        model.eval()
        la = make_laplace().fit(loader)
    model.eval()
    return la, history
