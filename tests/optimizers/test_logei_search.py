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
from service.optimizers.logei_search import LogEIObjective, log_h, maximise_logei, select_starts
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


def _model(d: int = 2, n: int = 12, seed: int = 0, kernel: str = "rbf"):
    space = SearchSpace([FloatParam(name=f"x{i}", low=0, high=1) for i in range(d)])
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=F64)
    y = torch.sin(6 * X).sum(-1) + 0.5 * X.sum(-1)
    fitted, _, _ = fit_gp(space, GPData(X, y, None), kernel=kernel)
    return space, X, fitted, cached_posterior_model(fitted)


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
@pytest.mark.parametrize("correlated", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_logei_and_gradient_equal_the_gp_posterior_and_central_differences(seed: int, correlated: bool,
                                                                           kernel: str) -> None:
    space, X, fitted, view = _model(seed=seed, kernel=kernel)
    assert view.kernel_type == kernel
    objective = LogEIObjective(view, correlated=correlated)
    points = torch.rand(7, 2, generator=torch.Generator().manual_seed(10 + seed), dtype=F64)
    value, grad = objective.value_and_grad(points.numpy())
    # reference: GPyTorch's joint posterior of (x, x*) (original units) standardised back, 50-digit log_h
    incumbent = torch.as_tensor(objective.incumbent, dtype=F64)
    pairs = torch.stack([points, incumbent.expand_as(points)], dim=-2)  # (7, 2, D)
    with torch.no_grad():
        posterior = fitted.posterior(pairs)
    y_std, y_mean = float(view.y_std), float(view.y_mean)
    mean = (posterior.mean.squeeze(-1) - y_mean) / y_std  # (7, 2)
    cov = posterior.mvn.covariance_matrix / y_std**2  # (7, 2, 2)
    assert float(mean[:, 1].max() - mean[:, 1].min()) < 1e-9 and abs(float(mean[0, 1]) - objective.best_f) < 1e-6
    if correlated:
        sd = (cov[:, 0, 0] + cov[:, 1, 1] - 2 * cov[:, 0, 1]).sqrt()
    else:
        sd = cov[:, 0, 0].sqrt()
    z = (mean[:, 0] - objective.best_f) / sd
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


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
def test_search_finds_the_grid_maximum_of_logei(kernel: str) -> None:
    space, X, _, view = _model(d=2, n=10, seed=3, kernel=kernel)
    objective = LogEIObjective(view)
    grid = torch.cartesian_prod(torch.linspace(0, 1, 401, dtype=F64), torch.linspace(0, 1, 401, dtype=F64)).numpy()
    best_on_grid = float(objective.value(grid).max())
    found = maximise_logei(view, X, space.bounds(), seed=0)
    assert found.shape == (1, 2) and bool(((found >= 0) & (found <= 1)).all())
    assert float(objective.value(found.numpy())[0]) >= best_on_grid - 1e-6
    assert math.isfinite(best_on_grid)


def test_starts_hold_the_best_candidate_and_are_distinct() -> None:
    rng = np.random.default_rng(0)
    candidates = np.concatenate([rng.random((50, 3)), np.zeros((5, 3))])  # five copies of one row
    scores = np.concatenate([rng.standard_normal(50), np.full(5, 10.0)])  # ... which scores best
    starts = select_starts(candidates, scores, 6, np.random.default_rng(1))
    assert starts.shape == (6, 3)
    np.testing.assert_array_equal(starts[0], np.zeros(3))
    assert np.unique(starts, axis=0).shape[0] == 6
    # non-finite scores are never starts: the copies at odd indices 51, 53 keep the best row
    masked = np.where(np.arange(55) % 2 == 0, np.nan, scores)
    with_nan = select_starts(candidates, masked, 4, np.random.default_rng(2))
    assert with_nan.shape == (4, 3)
    np.testing.assert_array_equal(with_nan[0], np.zeros(3))
    finite_rows = candidates[np.isfinite(masked)]
    assert all(any(np.array_equal(row, other) for other in finite_rows) for row in with_nan)
