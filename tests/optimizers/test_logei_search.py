"""The hand-written LogEI search: ``log_h`` against 50-digit arithmetic, LogEI and its gradient against
the GP posterior and central differences, and the search against a dense grid (float64, small cases)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

from service.optimizers.cached_posterior import cached_posterior_model
from service.optimizers.gp_model import GPData, fit_gp
from service.optimizers.logei_search import LogEIObjective, log_h, maximise_logei
from service.space import FloatParam, SearchSpace

F64 = torch.float64


def _exact_log_h(z: float) -> float:
    """``log(phi(z) + z Phi(z))`` with 50 significant digits."""
    with mpmath.workdps(50):
        z = mpmath.mpf(z)
        return float(mpmath.log(mpmath.npdf(z) + z * mpmath.ncdf(z)))


def test_log_h_matches_high_precision_arithmetic_from_the_body_to_the_far_tail() -> None:
    z = np.array([8.0, 2.5, 0.3, 0.0, -0.5, -0.999, -1.0, -1.001, -3.0, -10.0, -40.0, -1e3, -1e5, -5e6, -1e8])
    exact = np.array([_exact_log_h(v) for v in z])
    np.testing.assert_allclose(log_h(z), exact, rtol=1e-10)


def _model(d: int = 2, n: int = 12, seed: int = 0):
    space = SearchSpace([FloatParam(name=f"x{i}", low=0, high=1) for i in range(d)])
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=F64)
    y = torch.sin(6 * X).sum(-1) + 0.5 * X.sum(-1)
    fitted, _, _ = fit_gp(space, GPData(X, y, None))
    return space, X, fitted, cached_posterior_model(fitted)


@pytest.mark.parametrize("seed", [0, 1])
def test_logei_and_gradient_equal_the_gp_posterior_and_autograd(seed: int) -> None:
    space, X, fitted, view = _model(seed=seed)
    objective = LogEIObjective(view)
    points = torch.rand(7, 2, generator=torch.Generator().manual_seed(10 + seed), dtype=F64)
    value, grad = objective.value_and_grad(points.numpy())
    # reference: GPyTorch's posterior (original units) standardised back, LogEI by 50-digit log_h
    with torch.no_grad():
        posterior = fitted.posterior(points.unsqueeze(-2))
    y_std = float(view.y_std)
    mean = (posterior.mean.reshape(-1) - float(view.y_mean)) / y_std
    sd = posterior.variance.reshape(-1).sqrt() / y_std
    z = (mean - objective.best_f) / sd
    reference = np.array([_exact_log_h(float(v)) for v in z]) + np.log(sd.numpy())
    np.testing.assert_allclose(value, reference, rtol=1e-6, atol=1e-8)
    # gradient: central differences of the value (checked above against 50-digit arithmetic)
    step = 1e-6
    numeric = np.zeros_like(grad)
    for j in range(points.shape[1]):
        shift = np.zeros(points.shape[1])
        shift[j] = step
        numeric[:, j] = (objective.value(points.numpy() + shift) - objective.value(points.numpy() - shift)) / (2 * step)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_search_finds_the_grid_maximum_of_logei() -> None:
    space, X, _, view = _model(d=2, n=10, seed=3)
    objective = LogEIObjective(view)
    grid = torch.cartesian_prod(torch.linspace(0, 1, 401, dtype=F64), torch.linspace(0, 1, 401, dtype=F64)).numpy()
    best_on_grid = float(objective.value(grid).max())
    found = maximise_logei(view, X, space.bounds(), seed=0)
    assert found.shape == (1, 2) and bool(((found >= 0) & (found <= 1)).all())
    assert float(objective.value(found.numpy())[0]) >= best_on_grid - 1e-6
    assert math.isfinite(best_on_grid)
