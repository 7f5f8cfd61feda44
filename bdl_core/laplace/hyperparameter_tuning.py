"""The one marginal-likelihood tuning loop of ``bdl_core``.

:func:`maximise_evidence` takes Adam steps on the log hyperparameters of a
:class:`~bdl_core.hyperparameters.Hyperparameters` (log prior precisions of any structure and,
for regression, log sigma, () or one per output) maximising an evidence the caller computes
from them with the curvature held fixed (Laplace Redux, Sec. 3). Every marginal-likelihood
update in the library runs through it: post-hoc tuning of a fitted Laplace
(:func:`optimize_hyperparameters`), the hyperparameter steps of the online loop
(``bdl_core.marglik.train``, LA-NAM) and the LLA surrogates' evidence updates (function-space
or parametric, one output or several). ``floor`` projects log sigma onto [log floor, inf)
after every step: a Bayesian-optimisation surrogate must not collapse its noise to
interpolate the observations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..hyperparameters import Hyperparameters

if TYPE_CHECKING:
    from .laplace import LaplacePosterior as Laplace


def maximise_evidence(evidence: Callable[[], Tensor], hypers: Hyperparameters, n_steps: int, lr: float = 0.1, *,
                      optimizer: torch.optim.Optimizer | None = None, learn_sigma: bool | None = None,
                      floor: float | None = None, prior_bounds: tuple[float, float] | None = None,
                      record: bool = True,
                      callback: Callable[[int, int, float], None] | None = None) -> list[float]:
    """Maximise ``evidence()`` over the log hyperparameters of ``hypers``, in place.

    Args:
        evidence: Returns the () objective (a log marginal likelihood, or a bound or a per-example
            version of it), differentiable in the parameters of ``hypers``.
        hypers: The hyperparameters to tune (their values change in place).
        n_steps: Number of optimiser steps.
        lr: Adam learning rate (on log values) when ``optimizer`` is None.
        optimizer: An optimiser over the parameters to tune whose state persists between calls (the
            online loop's); None: a fresh Adam over ``hypers.trainable()`` (the prior only when
            ``learn_sigma`` is False).
        learn_sigma: Whether a fresh optimiser also tunes log sigma (None: ``hypers.learn_sigma``).
        floor: Floor of sigma (> 0): log sigma is projected onto [log floor, inf) before the first
            step and after every step (None: no floor).
        prior_bounds: (low, high) bounds of the log prior precisions, projected onto after every step.
        record: Return the objective before every step (one host sync per step); False returns [].
        callback: Called as ``(step, n_steps, objective before the step)`` after every step
            (progress reports, e.g. of a job; needs ``record``).

    Returns:
        The objective before each step (n_steps floats), or [] without ``record``.
    """
    if callback is not None and not record:
        raise ValueError("a callback needs record=True (it receives the recorded objective)")
    if optimizer is None:
        tune_sigma = hypers.learn_sigma if learn_sigma is None else learn_sigma
        params = hypers.trainable() if tune_sigma else list(hypers.prior.parameters())
        optimizer = torch.optim.Adam(params, lr=lr)
    log_floor = None if floor is None else math.log(floor)
    _project(hypers, log_floor, None)
    project = log_floor is not None or prior_bounds is not None
    trace: list[float] = []
    with torch.enable_grad():
        for step in range(1, n_steps + 1):
            optimizer.zero_grad()
            value = evidence()
            (-value).backward()
            optimizer.step()
            if project:
                _project(hypers, log_floor, prior_bounds)
            if record:
                trace.append(value.item())
                if callback is not None:
                    callback(step, n_steps, trace[-1])
    for p in hypers.parameters():
        p.grad = None
    return trace


@torch.no_grad()
def _project(hypers: Hyperparameters, log_floor: float | None, prior_bounds: tuple[float, float] | None) -> None:
    """Clamp log sigma to [log_floor, inf) and the log prior precisions to ``prior_bounds`` (None: no bound)."""
    if log_floor is not None:
        hypers.log_sigma.clamp_(min=log_floor)
    if prior_bounds is not None:
        for p in hypers.prior.parameters():
            p.clamp_(*prior_bounds)


def optimize_hyperparameters(la: Laplace, n_steps: int = 100, lr: float = 0.1, noise: bool = True,
                             min_sigma_noise: float | None = None,
                             callback: Callable[[int, int, float], None] | None = None) -> list[float]:
    """Maximise ``la.log_marginal_likelihood()`` over its log hyperparameters in place.

    Args:
        la: A fitted :class:`~bdl_core.laplace.Laplace`.
        n_steps: Number of Adam steps.
        lr: Adam learning rate (on log values).
        noise: Also optimise log sigma (ignored for classification).
        min_sigma_noise: Optional floor for sigma (> 0; regression only).
        callback: Called as ``(step, n_steps, log_marginal_likelihood before the step)`` after
            every step (progress reports, e.g. of a job).

    Returns:
        Log marginal likelihood before each step and after the last (n_steps + 1 floats).
    """
    regression = la.likelihood.is_regression
    trace = maximise_evidence(la.log_marginal_likelihood, la.hypers, n_steps, lr,
                              learn_sigma=noise and regression,
                              floor=min_sigma_noise if regression else None, callback=callback)
    with torch.no_grad():
        trace.append(la.log_marginal_likelihood().item())
    return trace
