"""``surrogate: "auto"``: scores checked against independent computations, and the choice it makes."""

from __future__ import annotations

import math

import pytest
import torch
from gpytorch.mlls import ExactMarginalLogLikelihood

from service.optimizers import SuggestRequest, get_policy
from service.optimizers.gp import GPSurrogate
from service.optimizers.gp_model import GPData
from service.optimizers.lla import LLASurrogate
from service.optimizers.lla_options import LLAOptions
from service.optimizers.model_scores import evidence, gp_parts, lla_parts, loo
from service.space import FloatParam, SearchSpace

F64 = torch.float64
SMALL_LLA = {"width": 24, "epochs": 400, "warm_epochs": 60}


def _space(d: int = 2) -> SearchSpace:
    return SearchSpace([FloatParam(name=f"x{i}", low=0, high=1) for i in range(d)])


def _brute_force_loo(A: torch.Tensor, residual: torch.Tensor) -> float:
    """Sum of log N(r_i | conditional mean, conditional variance) given every other point."""
    total = 0.0
    n = A.shape[0]
    for i in range(n):
        rest = [j for j in range(n) if j != i]
        k = A[i, rest]
        solve = torch.linalg.solve(A[rest][:, rest], torch.stack([residual[rest], k], dim=-1))
        mean, var = float(k @ solve[:, 0]), float(A[i, i] - k @ solve[:, 1])
        total += -0.5 * math.log(2 * math.pi * var) - 0.5 * (float(residual[i]) - mean) ** 2 / var
    return total


def test_scores_equal_independent_computations() -> None:
    space = _space()
    X = torch.rand(9, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    y = torch.sin(4 * X[:, 0]) + X[:, 1] ** 2
    data = GPData.from_request(X, y, None)
    gp = GPSurrogate().fit(space, data, options=None, warm=None, safe=False, seed=0).model
    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    gp.train()
    with torch.no_grad():
        reference = float(gp.likelihood(gp(*gp.train_inputs)).log_prob(gp.train_targets))
    gp.eval()
    assert mll is not None and evidence(gp) == pytest.approx(reference, rel=1e-9, abs=1e-9)
    A, residual, _ = gp_parts(gp)
    assert loo(gp) == pytest.approx(_brute_force_loo(A, residual), rel=1e-8)
    lla = LLASurrogate().fit(space, data, options=LLAOptions(**SMALL_LLA), warm=None, safe=False, seed=0).model
    A, residual, _ = lla_parts(lla)
    assert loo(lla) == pytest.approx(_brute_force_loo(A, residual), rel=1e-8)
    assert loo(lla) == pytest.approx(_weight_space_loo(lla), rel=1e-7)
    assert lla.info["regime"] == "function" and math.isfinite(evidence(lla))


def _weight_space_loo(model) -> float:
    """The LLA's leave-one-out log likelihood from its definition, in weight space: for each point, the
    posterior of the linear model f(x; theta*) + J(x) (theta - theta*) with prior N(theta_0, diag(v))
    given the other points, and the predictive density of the left-out target. The model's covariance
    scale (``variance_scale``) multiplies the prior covariance and the noise variance."""
    inputs = model.encoder(model.train_X)
    z = (model.train_Y.reshape(-1) - model.y_mean) / model.y_std
    with torch.no_grad():
        features = model.net.tangent_features(inputs)
        J = features.jacobian()
        params = [p.detach() for p in model.net.parameters()]
        precisions = model.hypers.precisions(model.net.n_groups)
        scale = model.variance_scale
        prior_precision = torch.cat([torch.full((p.numel(),), float(t) / scale, dtype=F64) for p, t in zip(params, precisions)])
        means = model.prior_mean or [torch.zeros_like(p) for p in params]
        delta0 = torch.cat([(mu - p).reshape(-1) for p, mu in zip(params, means)])  # prior mean of theta - theta*
        noise = scale * float(model.hypers.sigma) ** 2
        target = z - features.f
    total = 0.0
    for i in range(J.shape[0]):
        rest = [j for j in range(J.shape[0]) if j != i]
        precision = torch.diag(prior_precision) + J[rest].T @ J[rest] / noise
        covariance = torch.linalg.inv(precision)
        mean = covariance @ (prior_precision * delta0 + J[rest].T @ target[rest] / noise)
        m, v = float(J[i] @ mean), float(J[i] @ covariance @ J[i]) + noise
        total += -0.5 * math.log(2 * math.pi * v) - 0.5 * (float(target[i]) - m) ** 2 / v
    return total


def _choose(X: torch.Tensor, y: torch.Tensor, seed: int) -> tuple[str, dict]:
    space = _space(X.shape[1])
    request = SuggestRequest(space=space, X=X, y=y, y_var=None, pending=torch.zeros(0, X.shape[1], dtype=F64),
                             count=1, seed=seed, n_suggested=X.shape[0], n_initial=4,
                             surrogate_options={"lla": SMALL_LLA})
    suggestion = get_policy("auto").suggest(request)
    assert suggestion.policy.startswith("auto:"), (suggestion.policy, suggestion.fallback_reason)
    return suggestion.policy.removeprefix("auto:"), suggestion.state.meta["scores"]


@pytest.mark.parametrize("seed", [0, 1])
def test_data_from_a_stationary_gp_choose_the_gp(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(30, 2, dtype=F64, generator=generator)
    K = torch.exp(-0.5 * torch.cdist(X, X).pow(2) / 0.3**2) + 1e-6 * torch.eye(30, dtype=F64)
    y = torch.linalg.cholesky(K) @ torch.randn(30, dtype=F64, generator=generator)
    chosen, scores = _choose(X, y + 0.01 * torch.randn(30, dtype=F64, generator=generator), seed)
    assert chosen == "gp", scores


def _flat_then_sharp(X: torch.Tensor) -> torch.Tensor:
    """0 for x0 < 0.5; 2 sin(25 x0) cos(20 x1) above: no single length scale fits both halves."""
    return torch.where(X[:, 0] < 0.5, torch.zeros_like(X[:, 0]), 2 * torch.sin(25 * X[:, 0]) * torch.cos(20 * X[:, 1]))


def test_data_from_a_non_stationary_function_choose_the_lla_on_most_seeds() -> None:
    """100 points each, seeds 0-5: the LLA on 5 of 6 when this test was written (the GP kept seed 4);
    at least 4 required, so that a change of rounding on another CPU does not decide it."""
    chosen = []
    for seed in range(6):
        generator = torch.Generator().manual_seed(100 + seed)
        X = torch.rand(100, 2, dtype=F64, generator=generator)
        y = _flat_then_sharp(X) + 0.01 * torch.randn(100, dtype=F64, generator=generator)
        name, scores = _choose(X, y, seed)
        assert all(math.isfinite(v) for v in scores.values()), scores
        chosen.append(name)
    assert chosen.count("lla") >= 4, chosen


def test_the_lla_candidate_is_uncalibrated_unless_the_study_asks() -> None:
    from service.optimizers.auto import lla_candidate_options
    from service.optimizers.auto_options import AutoOptions

    assert lla_candidate_options(AutoOptions()).variance_calibration == "off"
    chosen = lla_candidate_options(AutoOptions(lla={"variance_calibration": "loo", "width": 8}))
    assert (chosen.variance_calibration, chosen.width) == ("loo", 8)
