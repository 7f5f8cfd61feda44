"""The hand-written function-space evidence and predictive equal the Laplace library's."""

from __future__ import annotations

import pytest
import torch

from bdl_core.bo import (
    FunctionSpacePredictive,
    LLAConfig,
    ParametricPredictive,
    TangentMLP,
    function_space_log_evidence,
    gram_blocks,
    train_map,
    tune_function_space,
)
from bdl_core.bo.evidence_updates import function_space_update, parametric_update
from bdl_core.hyperparameters import Hyperparameters
from bdl_core.laplace import Laplace

F64 = torch.float64


def _setup(prior: str, n: int = 7):
    torch.manual_seed(0)
    net = TangentMLP(2, width=6, depth=2, activation="tanh")
    X = torch.rand(n, 2, dtype=F64) * 2 - 1
    y = torch.sin(3 * X[:, 0]) + X[:, 1] ** 2
    size = 1 if prior == "scalar" else net.n_groups
    hypers = Hyperparameters.for_network(net, prior, torch.linspace(-0.5, 0.8, size, dtype=F64),
                                         torch.tensor(-1.2, dtype=F64))
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

    def evidence(h: Hyperparameters) -> float:
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
        shifted = h.clone()
        with torch.no_grad():
            shifted.log_prior.add_(0.01)
        return shifted

    out = train_map(net, X, y, hypers, steps=100, lr=1e-3, tune=tune, marglik_every=10, marglik_steps=3, burnin=50)
    assert calls == [3, 3, 3, 3]  # after steps 60, 70, 80, 90 (never at the last step)
    assert torch.allclose(out.log_prior, hypers.log_prior + 0.04)

