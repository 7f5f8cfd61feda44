"""Predictive distributions: chunking, joint vs marginal, X-gradients, links, last layer.

Exact references: for a model linear in its weights the sampling ("nn") predictive and
the GLM predictive describe the same distribution; the last-layer Laplace of an MLP is
Bayesian linear regression on the (fixed) penultimate features.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bdl_core.laplace import Laplace

DT = torch.float64


def regression_la(structure="kron", prior="layerwise", subset="all", dtype=DT):
    g = torch.Generator().manual_seed(4)
    X = torch.randn(30, 2, generator=g, dtype=dtype)
    y = torch.stack([torch.sin(3 * X[:, 0]), X[:, 0] * X[:, 1]], dim=1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 2)).to(dtype)
    la = Laplace(model, "regression", structure, subset=subset, prior=prior, sigma_noise=0.3)
    return la.fit(X, y), X, y


@pytest.mark.parametrize("structure", ["full", "diag", "kron", "function"])
def test_joint_diagonal_equals_marginals_and_chunking_is_invisible(structure):
    la, _, _ = regression_la(structure)
    Xs = torch.randn(7, 2, dtype=DT)
    mean, var = la.predict(Xs)
    mean1, var1 = la.predict(Xs, chunk_size=2)
    assert mean.shape == var.shape == (7, 2)
    assert torch.allclose(mean, mean1) and torch.allclose(var, var1, rtol=1e-10)
    jmean, jcov = la.predict(Xs, joint=True)
    jmean3, jcov3 = la.predict(Xs, joint=True, chunk_size=3)  # multi-chunk path
    assert jcov.shape == (14, 14)
    assert torch.allclose(jmean, mean.reshape(-1))
    assert torch.allclose(jcov.diagonal(), var.reshape(-1), rtol=1e-10)
    assert torch.allclose(jcov3, jcov, rtol=1e-9, atol=1e-14)
    _, noisy = la.predict(Xs, observation_noise=True)
    assert torch.allclose(noisy, var + la.sigma_noise**2)


@pytest.mark.parametrize("structure", ["full", "kron", "function"])
def test_predictive_variance_is_differentiable_in_x(structure):
    la, _, _ = regression_la(structure)
    x = torch.tensor([[0.3, -0.2]], dtype=DT, requires_grad=True)
    mean, var = la.predict(x)
    grad = torch.autograd.grad(var.sum() + mean.sum(), x)[0]
    fd = torch.empty(2, dtype=DT)
    for i in range(2):
        e = torch.zeros(1, 2, dtype=DT)
        e[0, i] = 1e-6
        with torch.no_grad():
            hi = sum(t.sum() for t in la.predict(x + e))
            lo = sum(t.sum() for t in la.predict(x - e))
        fd[i] = (hi - lo) / 2e-6
    assert torch.allclose(grad[0], fd, rtol=1e-6, atol=1e-9)


def test_last_layer_is_bayesian_linear_regression_on_features():
    la, X, y = regression_la("full", "scalar", subset="last_layer")
    la.prior.set_(2.0)
    last = la.model[2]
    assert la.n_params == last.weight.numel() + last.bias.numel()
    phi = torch.cat([la.model[:2](X).detach(), torch.ones(X.shape[0], 1, dtype=DT)], dim=1)
    # Rows (n, c), columns in vector order: W row-major (c, j) then b (c).
    J = torch.zeros(X.shape[0], 2, 14, dtype=DT)
    for c in range(2):
        J[:, c, c * 6 : (c + 1) * 6] = phi[:, :6]
        J[:, c, 12 + c] = 1.0
    J = J.reshape(-1, 14)
    P = J.T @ J / 0.09 + 2.0 * torch.eye(14, dtype=DT)
    assert torch.allclose(la.posterior_precision.to_dense(), P, rtol=1e-10)
    theta = la.theta_map
    resid = y.reshape(-1) - J @ theta
    expected = (-0.5 * J.shape[0] * math.log(2 * math.pi * 0.09) - 0.5 * resid.pow(2).sum() / 0.09
                - 0.5 * (torch.logdet(P) - 14 * math.log(2.0) + 2.0 * theta.pow(2).sum()))
    assert torch.allclose(la.log_marginal_likelihood(), expected, rtol=1e-10)
    for structure in ("diag", "kron", "function"):
        other, _, _ = regression_la(structure, "scalar", subset="last_layer")
        assert other.n_params == 14
        assert torch.isfinite(other.log_marginal_likelihood())
    kron_ll, _, _ = regression_la("kron", "scalar", subset="last_layer")
    kron_ll.prior.set_(2.0)
    # a single Linear layer with Gaussian likelihood: K-FAC is exact
    assert torch.allclose(kron_ll.log_marginal_likelihood(), expected, rtol=1e-10)


def test_nn_sampling_matches_glm_for_a_model_linear_in_its_weights():
    g = torch.Generator().manual_seed(9)
    X = torch.randn(25, 3, generator=g, dtype=DT)
    torch.manual_seed(1)
    model = nn.Linear(3, 2).to(DT)
    y = X @ torch.randn(3, 2, generator=g, dtype=DT)
    la = Laplace(model, "regression", "full", sigma_noise=0.5, prior_precision=0.1).fit(X, y)
    Xs = torch.randn(4, 3, generator=g, dtype=DT)
    mean, var = la.predict(Xs)
    s_mean, s_var = la.predict(Xs, method="nn", n_samples=20000, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(s_mean, mean, atol=0.05 * var.sqrt().max().item())
    assert torch.allclose(s_var, var, rtol=0.05)
    _, j_cov = la.predict(Xs, joint=True)
    _, s_cov = la.predict(Xs, joint=True, method="nn", n_samples=20000,
                          generator=torch.Generator().manual_seed(3))
    assert (s_cov - j_cov).abs().max() < 0.05 * j_cov.abs().max()
    model_c = nn.Linear(3, 3).to(DT)
    labels = torch.randint(0, 3, (25,), generator=g)
    lc = Laplace(model_c, "classification", "kron", prior_precision=0.5).fit(X, labels)
    p_probit = lc.predict(Xs)
    p_mc = lc.predict(Xs, link="mc", n_samples=20000, generator=torch.Generator().manual_seed(1))
    p_nn = lc.predict(Xs, method="nn", n_samples=20000, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(p_probit.sum(-1), torch.ones(4, dtype=DT))
    assert torch.allclose(p_mc, p_nn, atol=0.015)  # same distribution, Monte-Carlo error only
    assert torch.allclose(p_probit, p_mc, atol=0.05)  # probit is an approximation


def test_probit_formula_and_classification_joint():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(20, 2, generator=g, dtype=DT)
    labels = (X[:, 0] > 0).long()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2)).to(DT)
    la = Laplace(model, "classification", "diag").fit(X, labels)
    mean, cov = la.functional_distribution(X[:3])
    expected = torch.softmax(mean / (1 + math.pi / 8 * cov.diagonal(dim1=-2, dim2=-1)).sqrt(), -1)
    assert torch.allclose(la.predict(X[:3]), expected)
    jmean, jcov = la.predict(X[:3], joint=True)
    assert jcov.shape == (6, 6) and torch.allclose(jmean, mean.reshape(-1))


def test_float32_models_work():
    for structure in ("full", "diag", "kron", "function"):
        la, X, _ = regression_la(structure, "unitwise", dtype=torch.float32)
        lml = la.log_marginal_likelihood()
        assert lml.dtype == torch.float32 and torch.isfinite(lml)
        mean, var = la.predict(X[:3])
        assert var.dtype == torch.float32 and (var > 0).all()
