"""Post-hoc hyperparameter tuning of a fitted Laplace approximation by its evidence.

Adam on the log prior precisions (any prior structure) and, for regression, log
sigma, maximising the Laplace log marginal likelihood (Laplace Redux, Sec. 3; the
curvature stays fixed). ``min_sigma_noise`` projects log sigma onto
[log min_sigma_noise, inf) after every step: a Bayesian-optimisation surrogate must not
collapse its noise to interpolate the observations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .laplace import LaplacePosterior as Laplace


def optimize_hyperparameters(la: Laplace, n_steps: int = 100, lr: float = 0.1, noise: bool = True,
                             min_sigma_noise: float | None = None,
                             callback: Callable[[int, int, float], None] | None = None) -> list[float]:
    """Maximise ``la.log_marginal_likelihood()`` over its log hyperparameters in place.

    Args:
        la: A fitted :class:`~bdl_core.laplace.Laplace`.
        n_steps: Number of Adam steps.
        lr: Adam learning rate (on log values).
        noise: Also optimise log sigma (ignored for classification).
        min_sigma_noise: Optional floor for sigma (> 0).
        callback: Called as ``(step, n_steps, log_marginal_likelihood before the step)`` after
            every step (progress reports, e.g. of a job).

    Returns:
        Log marginal likelihood before each step and after the last (n_steps + 1 floats).
    """
    tune_noise = noise and la.likelihood.is_regression
    params = la.hypers.trainable() if tune_noise else list(la.hypers.prior.parameters())
    floor = None if min_sigma_noise is None else math.log(min_sigma_noise)
    if floor is not None and la.likelihood.is_regression:
        with torch.no_grad():
            la.log_sigma_noise.clamp_(min=floor)
    optimizer = torch.optim.Adam(params, lr=lr)
    trace = []
    for step in range(1, n_steps + 1):
        optimizer.zero_grad()
        lml = la.log_marginal_likelihood()
        (-lml).backward()
        optimizer.step()
        if floor is not None and tune_noise:
            with torch.no_grad():
                la.log_sigma_noise.clamp_(min=floor)
        trace.append(lml.item())
        if callback is not None:
            callback(step, n_steps, trace[-1])
    with torch.no_grad():
        trace.append(la.log_marginal_likelihood().item())
    for p in params:
        p.grad = None
    return trace
