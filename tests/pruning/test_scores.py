"""Pruning scores against closed forms and brute-force curvature (float64)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bdl_core.curvature import ParameterLayout
from bdl_core.laplace import Laplace
from bdl_core.pruning import compute_scores, grasp_scores, magnitude_scores, opd_scores, random_scores, snip_scores

DT = torch.float64


def classification_problem():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(30, 4, generator=g, dtype=DT)
    y = (X[:, 0] - X[:, 2] > 0).long() + (X[:, 1] > 1).long()
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).to(DT)
    return net, X, y


def brute_force_ggn_diagonal(net, X):
    """diag(sum_n J_n^T Lambda_n J_n) from full autograd Jacobians of the logits."""
    layout = ParameterLayout(net)
    theta0 = layout.vector()
    shapes = [(p.shape, p.numel()) for p in layout.parameters()]

    def logits(theta):
        params, i = {}, 0
        for (name, _), (shape, n) in zip(layout.named_parameters(), shapes):
            params[name] = theta[i : i + n].reshape(shape)
            i += n
        return torch.func.functional_call(net, params, (X,))

    J = torch.autograd.functional.jacobian(logits, theta0)  # (N, C, P)
    p = torch.softmax(logits(theta0), -1)
    Lam = torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)
    return torch.einsum("ncp,ncd,ndp->p", J, Lam, J)


def test_opd_is_theta_squared_times_diag_posterior_precision_diag():
    net, X, y = classification_problem()
    la = Laplace(net, "classification", "diag", prior="layerwise", prior_precision=0.7).fit(X, y)
    la.prior_precision = torch.tensor([0.5, 2.0, 3.0, 0.25], dtype=DT)
    expected_diag = brute_force_ggn_diagonal(net, X) + la.prior_diagonal().detach()
    theta = la.theta_map
    scores = opd_scores(theta, la.posterior_precision)
    assert torch.allclose(scores, theta.pow(2) * expected_diag, rtol=1e-10, atol=1e-14)
    via_dispatch = compute_scores("opd", net, la.layout, posterior_precision=la.posterior_precision)
    assert torch.allclose(via_dispatch, scores)


def test_opd_kron_uses_the_diagonal_of_the_kfac_precision():
    net, X, y = classification_problem()
    la = Laplace(net, "classification", "kron", prior="unitwise", prior_precision=1.3).fit(X, y)
    la.optimize_hyperparameters(n_steps=5, lr=0.2)
    dense = la.posterior_precision.to_dense()
    theta = la.theta_map
    assert torch.allclose(opd_scores(theta, la.posterior_precision), theta.pow(2) * dense.diagonal(), rtol=1e-10)
    # K-FAC differs from the exact GGN for a hidden layer: the kron and diag scores are not the same
    exact = theta.pow(2) * (brute_force_ggn_diagonal(net, X) + la.prior_diagonal().detach())
    assert not torch.allclose(opd_scores(theta, la.posterior_precision), exact, rtol=1e-3)


def test_opd_kron_equals_exact_ggn_for_a_single_linear_layer_regression():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(25, 3, generator=g, dtype=DT)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=DT) + 0.1 * torch.randn(25, 1, generator=g, dtype=DT)
    net = nn.Linear(3, 1).to(DT)
    la = Laplace(net, "regression", "kron", prior="layerwise", prior_precision=0.3, sigma_noise=0.4).fit(X, y)
    Xa = torch.cat([X, torch.ones(25, 1, dtype=DT)], 1)  # weight then bias, as the layout orders them
    exact_diag = (Xa * Xa).sum(0) / 0.4**2 + 0.3
    theta = torch.cat([net.weight.detach().reshape(-1), net.bias.detach()])
    assert torch.allclose(opd_scores(la.theta_map, la.posterior_precision), theta.pow(2) * exact_diag, rtol=1e-10)


def linear_regression():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(20, 3, generator=g, dtype=DT)
    y = torch.randn(20, 1, generator=g, dtype=DT)
    net = nn.Linear(3, 1).to(DT)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.3, -1.2, 0.7]], dtype=DT))
        net.bias.fill_(0.2)
    Xa = torch.cat([X, torch.ones(20, 1, dtype=DT)], 1)
    theta = torch.tensor([0.3, -1.2, 0.7, 0.2], dtype=DT)
    return net, X, y, Xa, theta


def test_snip_and_grasp_match_linear_regression_closed_forms():
    net, X, y, Xa, theta = linear_regression()
    layout = ParameterLayout(net)
    g = Xa.T @ (Xa @ theta - y[:, 0])  # gradient of 0.5 ||X theta - y||^2
    H = Xa.T @ Xa
    assert torch.allclose(snip_scores(net, layout, X, y, "regression", batch_size=7), (theta * g).abs(), rtol=1e-10)
    expected = theta.abs() * (H @ g).abs()
    assert torch.allclose(grasp_scores(net, layout, X, y, "regression", batch_size=6), expected, rtol=1e-10)


def test_magnitude_and_random():
    net, _, _, _, theta = linear_regression()
    layout = ParameterLayout(net)
    assert torch.equal(magnitude_scores(layout), theta.abs())
    a = random_scores(layout, torch.Generator().manual_seed(1))
    b = random_scores(layout, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.dtype == DT and ((a >= 0) & (a < 1)).all()


def test_compute_scores_errors():
    net, X, y, _, _ = linear_regression()
    layout = ParameterLayout(net)
    with pytest.raises(ValueError, match="posterior precision"):
        compute_scores("opd", net, layout)
    with pytest.raises(ValueError, match="training data"):
        compute_scores("snip", net, layout)
    with pytest.raises(ValueError, match="criterion"):
        compute_scores("obd", net, layout)
