"""Prior precision by validation NLL: exact for Bayesian linear regression, argmin kept.

For a model linear in its weights the Laplace predictive at a fixed MAP is Gaussian
with covariance J (J^T J / sigma^2 + delta I)^-1 J^T, so the validation NLL of every
grid value is checked against that closed form (float64).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bdl_core.calibration import negative_log_likelihood
from bdl_core.laplace import Laplace, default_prior_grid, validation_negative_log_likelihood

DT = torch.float64


def _regression_case(sigma=0.5):
    g = torch.Generator().manual_seed(3)
    X = torch.randn(30, 4, generator=g, dtype=DT)
    y = X @ torch.randn(4, 1, generator=g, dtype=DT) + sigma * torch.randn(30, 1, generator=g, dtype=DT)
    Xv = torch.randn(12, 4, generator=g, dtype=DT)
    yv = Xv @ torch.randn(4, 1, generator=g, dtype=DT) + sigma * torch.randn(12, 1, generator=g, dtype=DT)
    model = nn.Linear(4, 1, bias=False).to(DT)
    with torch.no_grad():
        model.weight.copy_(torch.linalg.lstsq(X, y).solution.T)
    la = Laplace(model, "regression", structure="kron", prior="scalar", sigma_noise=sigma).fit(X, y)
    return la, X, Xv, yv, sigma


def _closed_form_nll(X, Xv, yv, w, delta, sigma):
    cov = torch.linalg.inv(X.T @ X / sigma**2 + delta * torch.eye(X.shape[1], dtype=DT))
    mean = Xv @ w
    var = torch.einsum("nd,de,ne->n", Xv, cov, Xv) + sigma**2
    r = yv.reshape(-1) - mean
    return float((0.5 * (r**2 / var + var.log() + math.log(2 * math.pi))).mean())


def test_regression_validation_nll_matches_closed_form_and_argmin_is_kept():
    la, X, Xv, yv, sigma = _regression_case()
    w = la.model.weight.detach().reshape(-1)
    grid = torch.tensor([1e-3, 0.1, 1.0, 10.0, 300.0], dtype=DT)
    returned_grid, losses = la.optimize_prior_precision_on_validation(Xv, yv, grid=grid)
    expected = torch.tensor([_closed_form_nll(X, Xv, yv, w, float(d), sigma) for d in grid], dtype=DT)
    torch.testing.assert_close(returned_grid, grid)
    torch.testing.assert_close(losses, expected, rtol=1e-10, atol=1e-12)
    assert float(la.prior_precision) == pytest.approx(float(grid[expected.argmin()]))
    assert len(set(losses.tolist())) == len(grid)  # the prior matters, so the check can fail


def _classification_case():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(60, 3, generator=g, dtype=DT)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).long() + (X[:, 2] > 1).long()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 3)).to(DT)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    Xv = torch.randn(25, 3, generator=g, dtype=DT)
    yv = (Xv[:, 0] + 0.5 * Xv[:, 1] > 0).long() + (Xv[:, 2] > 1).long()
    return model, X, y, Xv, yv


@pytest.mark.parametrize("structure, prior", [("kron", "scalar"), ("diag", "layerwise"), ("full", "unitwise")])
def test_classification_grid_search_scores_each_value_and_keeps_the_best(structure, prior):
    model, X, y, Xv, yv = _classification_case()
    la = Laplace(model, "classification", structure=structure, prior=prior).fit(X, y)
    grid = torch.logspace(-2, 3, 11, dtype=DT)
    _, losses = la.optimize_prior_precision_on_validation(Xv, yv, grid=grid)
    chosen = la.prior_diagonal().detach().clone()
    by_hand = []
    for value in grid:
        la.prior_precision = float(value)
        by_hand.append(negative_log_likelihood(la.predict(Xv), yv))
    torch.testing.assert_close(losses, torch.tensor(by_hand, dtype=DT))
    best = float(grid[int(torch.tensor(by_hand).argmin())])
    torch.testing.assert_close(chosen, torch.full_like(chosen, best))
    assert losses.max() > losses.min()


def test_mc_link_uses_common_random_numbers():
    model, X, y, Xv, yv = _classification_case()
    la = Laplace(model, "classification", structure="kron").fit(X, y)
    la.prior_precision = 2.0
    first = validation_negative_log_likelihood(la, Xv, yv, link="mc")
    assert validation_negative_log_likelihood(la, Xv, yv, link="mc") == first


def test_default_grid_spans_ten_decades():
    grid = default_prior_grid()
    assert grid.shape == (41,)
    assert float(grid[0]) == pytest.approx(1e-4) and float(grid[-1]) == pytest.approx(1e6)


@pytest.mark.parametrize("grid, message", [
    (torch.tensor([]), "at least one"),
    (torch.tensor([1.0, -2.0]), "finite and positive"),
    (torch.tensor([1.0, float("inf")]), "finite and positive"),
])
def test_bad_grids_are_rejected(grid, message):
    la, _, Xv, yv, _ = _regression_case()
    before = la.prior_precision.clone()
    with pytest.raises(ValueError, match=message):
        la.optimize_prior_precision_on_validation(Xv, yv, grid=grid)
    assert torch.equal(la.prior_precision, before)  # nothing half-changed


def test_mismatched_validation_data_is_rejected():
    la, _, Xv, yv, _ = _regression_case()
    with pytest.raises(ValueError, match="same, non-zero number"):
        la.optimize_prior_precision_on_validation(Xv, yv[:5])


def test_unfitted_laplace_is_rejected():
    la = Laplace(nn.Linear(2, 1).to(DT), "regression")
    with pytest.raises(RuntimeError):
        la.optimize_prior_precision_on_validation(torch.zeros(3, 2, dtype=DT), torch.zeros(3, 1, dtype=DT))
