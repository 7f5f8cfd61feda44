"""Prior precision chosen by the predictive log-likelihood of held-out data.

The alternative to evidence maximisation that Laplace Redux (Sec. 3) offers: evaluate
the Laplace predictive on a validation split for each value of a grid and keep the one
with the lowest negative log-likelihood. It needs data the MAP was not trained on, but
it does not rely on the MAP being the mode of the prior it is scored under. That is
where the evidence goes wrong for networks trained to interpolation without weight
decay: the GGN of the fitted training points is almost zero, the evidence explains
the large weights with a broad prior, and the predictive becomes underconfident (see
tests/bdl_core/test_digits_calibration.py). A change of prior costs no new
factorisation for any structure, so a grid of a few dozen values costs a few dozen
predictive passes over the validation data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from bdl_core.calibration import gaussian_negative_log_likelihoods, negative_log_likelihoods

if TYPE_CHECKING:
    from .laplace import LaplacePosterior as Laplace


def default_prior_grid(dtype: torch.dtype = torch.float64) -> Tensor:
    """(41,) prior precisions 1e-4 ... 1e6, four per decade."""
    return torch.logspace(-4, 6, 41, dtype=dtype)


def validation_negative_log_likelihood(la: Laplace, X: Tensor, y: Tensor, link: str = "probit",
                                       chunk_size: int | None = None) -> float:
    """Mean negative log predictive density of held-out data under the current prior.

    Args:
        la: A fitted :class:`~bdl_core.laplace.Laplace`.
        X: (N, *in_shape) validation inputs.
        y: (N,) class indices (classification) or (N, C) / (N,) targets (regression;
            the Gaussian predictive includes the observation noise sigma^2).
        link: Classification link of the GLM predictive, ``"probit"`` or ``"mc"``.
        chunk_size: Inputs per Jacobian evaluation.

    Returns:
        The mean NLL per example (nats).
    """
    return float(validation_negative_log_likelihoods(la, X, y, link, chunk_size).mean())


def validation_negative_log_likelihoods(la: Laplace, X: Tensor, y: Tensor, link: str = "probit",
                                        chunk_size: int | None = None) -> Tensor:
    """(N,) negative log predictive density of each held-out example under the current prior.

    Args:
        la, X, y, link, chunk_size: As for :func:`validation_negative_log_likelihood`.

    Returns:
        (N,) NLL per example (regression: summed over the C outputs).
    """
    with torch.no_grad():
        if not la.likelihood.is_regression:
            # link="mc": the same draws for every call (common random numbers across a grid)
            generator = torch.Generator(la.layout.device).manual_seed(0)
            probs = la.predict(X, link=link, chunk_size=chunk_size, generator=generator)
            return negative_log_likelihoods(probs, y.reshape(-1))
        mean, var = la.predict(X, observation_noise=True, chunk_size=chunk_size)
        return gaussian_negative_log_likelihoods(mean, var, y.reshape(mean.shape).to(mean)).sum(dim=1)


def optimize_prior_precision_on_validation(la: Laplace, X: Tensor, y: Tensor, grid: Tensor | None = None,
                                           link: str = "probit", chunk_size: int | None = None,
                                           progress_callback: Callable[[int, int, float], None] | None = None,
                                           ) -> tuple[Tensor, Tensor]:
    """Set ``la``'s prior precision to the grid value with the lowest validation NLL.

    Each grid value is a scalar precision given to every parameter (for structured
    priors it replaces all hyperparameters by that one value, as
    ``la.prior_precision = value`` does). Ties go to the first (smallest) value.

    Args:
        la: A fitted :class:`~bdl_core.laplace.Laplace`; changed in place.
        X: (N, *in_shape) validation inputs, not used to train the MAP.
        y: (N,) class indices or (N, C) regression targets.
        grid: (G,) positive candidate precisions; default :func:`default_prior_grid`.
        link: Classification link, ``"probit"`` or ``"mc"``.
        chunk_size: Inputs per Jacobian evaluation.
        progress_callback: Called as ``(i, G, nll)`` after the i-th value (1-based).

    Returns:
        The (G,) grid and the (G,) validation NLL of each value.
    """
    la._check_fitted()
    grid = default_prior_grid() if grid is None else torch.as_tensor(grid, dtype=torch.float64).reshape(-1)
    if grid.numel() == 0:
        raise ValueError("grid must hold at least one prior precision.")
    if not torch.isfinite(grid).all() or (grid <= 0).any():
        raise ValueError("grid values must be finite and positive.")
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X and y must hold the same, non-zero number of examples; got {X.shape[0]} and {y.shape[0]}.")
    losses = []
    for i, value in enumerate(grid.tolist(), start=1):
        la.prior_precision = value
        losses.append(validation_negative_log_likelihood(la, X, y, link, chunk_size))
        if progress_callback is not None:
            progress_callback(i, len(grid), losses[-1])
    losses_t = torch.tensor(losses, dtype=torch.float64)
    if not torch.isfinite(losses_t).any():
        raise ValueError("the validation NLL is not finite for any grid value.")
    best = int(torch.nan_to_num(losses_t, nan=math.inf).argmin())
    la.prior_precision = float(grid[best])
    return grid, losses_t
