"""build_acquisition: analytic LogEI against the incumbent for one point without pending trials, qLogNEI otherwise."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.models import SingleTaskGP

from service.optimizers.acquisition_function import build_acquisition
from service.optimizers.cached_posterior import cached_posterior_model
from service.optimizers.gp_model import GPData, fit_gp
from service.optimizers.incumbent_logei import IncumbentLogEI, log_h
from service.optimizers.logei_search import LogEIObjective
from service.space import FloatParam, SearchSpace

F64 = torch.float64


def _model() -> tuple[SingleTaskGP, torch.Tensor]:
    X = torch.tensor([[0.1, 0.2], [0.5, 0.5], [0.9, 0.4], [0.3, 0.8]], dtype=F64)
    Y = -((X - 0.5) ** 2).sum(-1, keepdim=True)
    return SingleTaskGP(X, Y).eval(), X


def test_one_point_without_pending_is_analytic_against_the_incumbent_jointly() -> None:
    model, X = _model()
    acqf = build_acquisition(model, X, torch.zeros(0, 2, dtype=F64), q=1, mc_samples=16, seed=0)
    assert isinstance(acqf, IncumbentLogEI)
    with torch.no_grad():
        means = model.posterior(X.unsqueeze(-2)).mean.reshape(-1)
    torch.testing.assert_close(acqf.incumbent, X[int(means.argmax())])
    # log E[(f(x) - f(x*))^+] by the closed form: s (z Phi(z) + phi(z)), z = d / s, from the joint posterior
    x = torch.tensor([[[0.45, 0.55]]], dtype=F64)
    with torch.no_grad():
        joint = model.posterior(torch.cat([x[0], acqf.incumbent.unsqueeze(0)]))
        mu, cov = joint.mean.reshape(-1), joint.mvn.covariance_matrix
        d = float(mu[0] - mu[1])
        s = math.sqrt(float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]))
        z = d / s
        phi = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        Phi = 0.5 * (1 + math.erf(z / math.sqrt(2)))
        assert float(acqf(x)) == pytest.approx(math.log(s * (z * Phi + phi)), rel=1e-9)


def test_torch_log_h_matches_high_precision_arithmetic() -> None:
    z = [8.0, 0.3, -0.999, -1.001, -10.0, -1e3, -1e5, -5e6, -1e8]
    with mpmath.workdps(50):
        exact = [float(mpmath.log(mpmath.npdf(v) + mpmath.mpf(v) * mpmath.ncdf(v))) for v in z]
    torch.testing.assert_close(log_h(torch.tensor(z, dtype=F64)), torch.tensor(exact, dtype=F64), rtol=1e-10, atol=0)


def test_incumbent_logei_equals_the_numpy_search_objective_on_a_gp() -> None:
    X = torch.rand(15, 2, generator=torch.Generator().manual_seed(4), dtype=F64)
    y = torch.sin(5 * X).sum(-1)
    space = SearchSpace([FloatParam(name="a", low=0, high=1), FloatParam(name="b", low=0, high=1)])
    fitted, _, _ = fit_gp(space, GPData(X, y, None))
    view = cached_posterior_model(fitted)
    acqf = IncumbentLogEI(view, X)
    reference = LogEIObjective(view)
    points = torch.rand(9, 2, generator=torch.Generator().manual_seed(5), dtype=F64)
    with torch.no_grad():
        ours = acqf(points.unsqueeze(-2)) - math.log(float(view.y_std))  # original units -> standardised
    # rtol: CachedPosteriorGP adds 1e-9 jitter to the joint covariance; LogEI is ~-4600 at some points
    torch.testing.assert_close(ours, torch.as_tensor(reference.value(points.numpy())), rtol=1e-5, atol=1e-8)


def test_pending_points_or_batches_use_qlognei() -> None:
    model, X = _model()
    pending = torch.tensor([[0.5, 0.6]], dtype=F64)
    with_pending = build_acquisition(model, X, pending, q=1, mc_samples=16, seed=0)
    assert isinstance(with_pending, qLogNoisyExpectedImprovement)
    batch = build_acquisition(model, X, torch.zeros(0, 2, dtype=F64), q=2, mc_samples=16, seed=0)
    assert isinstance(batch, qLogNoisyExpectedImprovement)
    forced = build_acquisition(model, X, torch.zeros(0, 2, dtype=F64), q=1, mc_samples=16, seed=0, analytic=False)
    assert isinstance(forced, qLogNoisyExpectedImprovement)

