"""build_acquisition: analytic LogEI for one point without pending trials, qLogNEI otherwise."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.acquisition.analytic import LogExpectedImprovement
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.models import SingleTaskGP

from service.optimizers.acquisition_function import build_acquisition

F64 = torch.float64


def _model() -> tuple[SingleTaskGP, torch.Tensor]:
    X = torch.tensor([[0.1, 0.2], [0.5, 0.5], [0.9, 0.4], [0.3, 0.8]], dtype=F64)
    Y = -((X - 0.5) ** 2).sum(-1, keepdim=True)
    return SingleTaskGP(X, Y).eval(), X


def test_one_point_without_pending_is_analytic_over_the_best_posterior_mean() -> None:
    model, X = _model()
    acqf = build_acquisition(model, X, torch.zeros(0, 2, dtype=F64), q=1, mc_samples=16, seed=0)
    assert isinstance(acqf, LogExpectedImprovement)
    with torch.no_grad():
        best_mean = model.posterior(X).mean.max()
    assert float(acqf.best_f) == float(best_mean)
    # log EI by the closed form at one point: sigma * (z Phi(z) + phi(z)), z = (mu - best) / sigma
    x = torch.tensor([[[0.45, 0.55]]], dtype=F64)
    with torch.no_grad():
        posterior = model.posterior(x)
        mu, sigma = float(posterior.mean), float(posterior.variance.sqrt())
        z = (mu - float(best_mean)) / sigma
        phi = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        Phi = 0.5 * (1 + math.erf(z / math.sqrt(2)))
        assert float(acqf(x)) == pytest.approx(math.log(sigma * (z * Phi + phi)), rel=1e-9)


def test_pending_points_or_batches_use_qlognei() -> None:
    model, X = _model()
    pending = torch.tensor([[0.5, 0.6]], dtype=F64)
    with_pending = build_acquisition(model, X, pending, q=1, mc_samples=16, seed=0)
    assert isinstance(with_pending, qLogNoisyExpectedImprovement)
    batch = build_acquisition(model, X, torch.zeros(0, 2, dtype=F64), q=2, mc_samples=16, seed=0)
    assert isinstance(batch, qLogNoisyExpectedImprovement)
    forced = build_acquisition(model, X, torch.zeros(0, 2, dtype=F64), q=1, mc_samples=16, seed=0, analytic=False)
    assert isinstance(forced, qLogNoisyExpectedImprovement)

