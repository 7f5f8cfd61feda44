"""Full-batch MAP training of the LLA network with online marginal-likelihood tuning.

BO data sets are small, so the whole data set is one batch: every step is an exact
gradient of the negative log joint (the MAP objective of the current hyperparameters)

    L(theta) = sum_k SSE_k(theta) / (2 sigma_k^2) + 1/2 sum_g p_g ||theta_g - mu_g||^2      (divided by n),

minimised with Adam and a cosine learning-rate decay. After a burn-in, every ``marglik_every`` steps the
hyperparameters (p, sigma) take ``marglik_steps`` Adam steps on the Laplace evidence at
the current theta (online marglik, Immer et al. 2021): the MAP and its prior stay
consistent, and no validation split is needed. ``tune`` does one such update; it is
the function-space evidence for n < P and the library (K-FAC / full) evidence above.
A warm start simply passes the previous network and hyperparameters with fewer steps. The same
training serves the single-output network (one noise sd) and the joint multi-output one (k over
its m outputs, one noise sd each).
The steps run in the shared online-marglik loop (:func:`bdl_core.marglik.loop.run_online_marglik`,
one full-batch step per "epoch").
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from bdl_core.marglik.loop import run_online_marglik

from bdl_core.hyperparameters import Hyperparameters

from .multi_output_mlp import MultiOutputMLP
from .tangent_mlp import TangentMLP

Network = TangentMLP | MultiOutputMLP
Tuner = Callable[[Network, Tensor, Tensor, Hyperparameters, int], Hyperparameters]


def _adam(params: list[Tensor], lr: float) -> torch.optim.Adam:
    """Adam, fused where the build supports it for these tensors (about 25% faster steps)."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr)


def map_loss(net: Network, inputs: Tensor, y: Tensor, hypers: Hyperparameters,
             prior_mean: list[Tensor] | None = None) -> Tensor:
    """() negative log joint / n at the current parameters, hyperparameters held fixed.

    Args:
        net: the network (one output, or m).
        inputs: (n, d_in) network inputs.
        y: (n,) standardised targets, or (n, m) for m outputs.
        hypers: prior precisions and noise (detached here).
        prior_mean: one tensor per parameter tensor (None: zero mean).
    """
    return _loss(net, inputs, y, *_fixed(net, hypers), prior_mean)


def _fixed(net: Network, hypers: Hyperparameters) -> tuple[Tensor, Tensor]:
    """(G,) detached prior precisions and () or (m,) noise variances, constant between evidence updates."""
    return hypers.precisions(net.n_groups).detach(), hypers.sigma.detach().pow(2)


def _loss(net: Network, inputs: Tensor, y: Tensor, precisions: Tensor, sigma2: Tensor,
          prior_mean: list[Tensor] | None) -> Tensor:
    out = net(inputs)
    residual = (out.squeeze(-1) if y.dim() == 1 else out) - y
    params = list(net.parameters())
    means = prior_mean if prior_mean is not None else [None] * len(params)
    penalty = sum(p_g * (theta if mu is None else theta - mu).pow(2).sum()
                  for p_g, theta, mu in zip(precisions, params, means))
    return (0.5 * (residual.pow(2).sum(0) / sigma2).sum() + 0.5 * penalty) / y.shape[0]


def train_map(net: Network, inputs: Tensor, y: Tensor, hypers: Hyperparameters, steps: int,
              lr: float, tune: Tuner | None, marglik_every: int, marglik_steps: int,
              burnin: int = 0, prior_mean: list[Tensor] | None = None) -> Hyperparameters:
    """Train ``net`` in place; returns the hyperparameters tuned along the way.

    Args:
        net: network to train (its current weights are the starting point), one output or m.
        inputs: (n, d_in) network inputs.
        y: (n,) standardised targets, or (n, m) for m outputs.
        hypers: starting hyperparameters.
        steps: full-batch Adam steps.
        lr: peak learning rate (cosine decay to 5% of it).
        tune: one marglik update ``tune(net, inputs, y, hypers, n_steps)``, or None (fixed).
        marglik_every: steps between updates (<= 0: never during training).
        marglik_steps: evidence steps per update.
        burnin: no update before this step (an evidence taken before the network fits the
            data explains the data as noise, and training then stops fitting it).

    Raises:
        ValueError: the loss became non-finite.
    """
    optimizer = _adam(list(net.parameters()), lr)
    floor = 0.05
    state = {"hypers": hypers, "fixed": _fixed(net, hypers), "loss": None}

    def train_step(step: int) -> float:  # 1-based
        for group in optimizer.param_groups:
            group["lr"] = lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (step - 1) / max(steps, 1))))
        optimizer.zero_grad()
        loss = _loss(net, inputs, y, *state["fixed"], prior_mean)
        loss.backward()
        optimizer.step()
        state["loss"] = loss
        return 0.0  # the loss is checked once, after the loop (no per-step host sync)

    def due(step: int) -> bool:
        return tune is not None and marglik_every > 0 and step - 1 >= burnin and step % marglik_every == 0 \
            and step < steps

    def update(step: int) -> float:
        state["hypers"] = tune(net, inputs, y, state["hypers"], marglik_steps)
        state["fixed"] = _fixed(net, state["hypers"])
        return float("nan")  # the surrogate does not track the best evidence

    with torch.enable_grad():
        run_online_marglik(steps, train_step, due, update)
    if steps > 0 and not math.isfinite(float(state["loss"].detach())):
        raise ValueError("MAP training diverged (non-finite loss)")
    return state["hypers"]
