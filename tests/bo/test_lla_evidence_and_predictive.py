"""The hand-written function-space evidence and predictive equal the Laplace library's."""

from __future__ import annotations

import pytest
import torch

from bdl_core.bo import (
    FunctionSpacePredictive,
    LLAConfig,
    LLAHyperparameters,
    ParametricPredictive,
    TangentMLP,
    function_space_log_evidence,
    gram_blocks,
    train_map,
    tune_function_space,
)
from bdl_core.bo.evidence_updates import function_space_update, parametric_update
from bdl_core.laplace import Laplace

F64 = torch.float64


def _setup(prior: str, n: int = 7):
    torch.manual_seed(0)
    net = TangentMLP(2, width=6, depth=2, activation="tanh")
    X = torch.rand(n, 2, dtype=F64) * 2 - 1
    y = torch.sin(3 * X[:, 0]) + X[:, 1] ** 2
    size = 1 if prior == "scalar" else net.n_groups
    hypers = LLAHyperparameters(torch.linspace(-0.5, 0.8, size, dtype=F64), torch.tensor(-1.2, dtype=F64))
    la = Laplace(net, "regression", structure="function", prior=prior,
                 prior_precision=hypers.log_prior.exp(), sigma_noise=hypers.sigma)
    la.fit(X, y.unsqueeze(-1))
    return net, X, y, hypers, la


@pytest.mark.parametrize("prior", ["scalar", "layerwise"])
def test_function_space_evidence_equals_library_evidence(prior: str) -> None:
    net, X, y, hypers, la = _setup(prior)
    with torch.no_grad():
        features = net.tangent_features(X)
        sse = (features.f - y).pow(2).sum()
        theta_sq = torch.stack([p.pow(2).sum() for p in net.parameters()])
    mine = function_space_log_evidence(gram_blocks(features), sse, theta_sq, hypers.log_prior, hypers.log_sigma)
    assert torch.allclose(mine, la.log_marginal_likelihood().detach(), rtol=1e-10)


def test_tuning_increases_the_evidence_and_respects_the_noise_floor() -> None:
    net, X, y, hypers, _ = _setup("layerwise")
    with torch.no_grad():
        features = net.tangent_features(X)
        grams, sse = gram_blocks(features), (features.f - y).pow(2).sum()
        theta_sq = torch.stack([p.pow(2).sum() for p in net.parameters()])

    def evidence(h: LLAHyperparameters) -> float:
        return float(function_space_log_evidence(grams, sse, theta_sq, h.log_prior, h.log_sigma))

    tuned = tune_function_space(grams, sse, theta_sq, hypers, n_steps=60, lr=0.1, min_sigma=1e-3)
    assert evidence(tuned) > evidence(hypers) + 1e-3
    floored = tune_function_space(grams, sse, theta_sq, hypers, n_steps=60, lr=0.1, min_sigma=0.5)
    assert float(floored.sigma) >= 0.5 - 1e-12


def test_function_space_predictive_equals_library_joint_predictive() -> None:
    net, X, y, hypers, la = _setup("layerwise")
    X_test = torch.rand(2, 3, 2, dtype=F64) * 4 - 2
    predictive = FunctionSpacePredictive(net, X, hypers.precisions(net.n_groups).reciprocal(), hypers.sigma)
    mean, cov = predictive(X_test)
    assert mean.shape == (2, 3) and cov.shape == (2, 3, 3)
    for b in range(2):
        ref_mean, ref_cov = la.functional_distribution(X_test[b], joint=True)
        assert torch.allclose(mean[b], ref_mean, atol=1e-12)
        assert torch.allclose(cov[b], ref_cov, atol=1e-9)


def test_parametric_full_predictive_equals_function_space_one() -> None:
    """Both forms are exact for the GGN posterior, so they must agree (here n < P, both valid)."""
    net, X, y, hypers, _ = _setup("layerwise")
    full = Laplace(net, "regression", structure="full", prior="layerwise",
                   prior_precision=hypers.log_prior.exp(), sigma_noise=hypers.sigma).fit(X, y.unsqueeze(-1))
    X_test = torch.rand(4, 2, 2, dtype=F64)
    _, cov_f = FunctionSpacePredictive(net, X, hypers.precisions(net.n_groups).reciprocal(), hypers.sigma)(X_test)
    _, cov_p = ParametricPredictive(net, full.posterior_precision)(X_test)
    assert torch.allclose(cov_f, cov_p, atol=1e-9)


@pytest.mark.parametrize("centred", [False, True])
def test_parametric_update_with_full_curvature_equals_function_space_update(centred: bool) -> None:
    """Both evidence forms are exact with the full GGN, with a zero or a non-zero prior mean."""
    net, X, y, hypers, _ = _setup("layerwise")
    prior_mean = [0.1 * torch.randn_like(p) for p in net.parameters()] if centred else None
    config = LLAConfig(width=6, depth=2, parametric_structure="full", marglik_lr=0.05)
    in_function_space = function_space_update(config, prior_mean, net, X, y, hypers, n_steps=15)
    parametric = parametric_update(config, prior_mean, net, X, y, hypers, n_steps=15)
    assert torch.allclose(in_function_space.log_prior, parametric.log_prior, atol=1e-8)
    assert torch.allclose(in_function_space.log_sigma, parametric.log_sigma, atol=1e-8)
    assert not torch.allclose(in_function_space.log_prior, hypers.log_prior)  # it did move


def test_online_updates_start_after_the_burn_in() -> None:
    net, X, y, hypers, _ = _setup("scalar")
    calls: list[int] = []

    def tune(net_, inputs, targets, h, n_steps):
        calls.append(n_steps)
        return LLAHyperparameters(h.log_prior + 0.01, h.log_sigma)

    out = train_map(net, X, y, hypers, steps=100, lr=1e-3, tune=tune, marglik_every=10, marglik_steps=3, burnin=50)
    assert calls == [3, 3, 3, 3]  # after steps 60, 70, 80, 90 (never at the last step)
    assert torch.allclose(out.log_prior, hypers.log_prior + 0.04)


@pytest.mark.parametrize("prior_mean", ["init", "zero"])
def test_mean_correction_is_the_linearised_posterior_mean(prior_mean: str) -> None:
    """f* + J* P^-1 (J^T r / s^2 - P0 u) computed densely equals both corrected predictives."""
    net, X, y, hypers, la = _setup("layerwise", n=9)
    generator = torch.Generator().manual_seed(1)
    mu0 = ([torch.randn(p.shape, dtype=F64, generator=generator) * 0.3 for p in net.parameters()]
           if prior_mean == "init" else None)
    variances = hypers.precisions(net.n_groups).reciprocal()
    sigma = hypers.sigma
    X_star = torch.rand(5, 2, dtype=F64, generator=generator) * 2 - 1
    with torch.no_grad():
        feats, feats_star = net.tangent_features(X), net.tangent_features(X_star)
        J, J_star = feats.jacobian(), feats_star.jacobian()
        sizes = [p.numel() for p in net.parameters()]
        p0 = torch.cat([v.reciprocal().expand(k) for v, k in zip(variances, sizes)])
        theta = torch.cat([p.reshape(-1) for p in net.parameters()])
        u = theta - (torch.cat([m.reshape(-1) for m in mu0]) if mu0 is not None else 0.0)
        P = J.mT @ J / sigma**2 + torch.diag(p0)
        delta = torch.linalg.solve(P, J.mT @ (y - feats.f) / sigma**2 - p0 * u)
        expected = feats_star.f + J_star @ delta
        function_space = FunctionSpacePredictive(net, X, variances, sigma, targets=y, prior_mean=mu0)
        full = Laplace(net, "regression", structure="full", prior="layerwise",
                       prior_precision=hypers.log_prior.exp(), sigma_noise=sigma).fit(X, y.unsqueeze(-1))
        parametric = ParametricPredictive(net, full.posterior_precision, X, y, variances, sigma, mu0)
        plain = FunctionSpacePredictive(net, X, variances, sigma)
        for predictive in (function_space, parametric):
            mean, cov = predictive(X_star.unsqueeze(0))
            torch.testing.assert_close(mean.squeeze(0), expected, rtol=1e-8, atol=1e-10)
        # without the correction the mean is the network, and the covariance is unchanged
        mean_plain, cov_plain = plain(X_star.unsqueeze(0))
        torch.testing.assert_close(mean_plain.squeeze(0), feats_star.f)
        torch.testing.assert_close(cov_plain, function_space(X_star.unsqueeze(0))[1])
        assert (expected - feats_star.f).abs().max() > 1e-6  # the correction is not trivially zero here
