"""Laplace on models linear in their weights equals exact Bayesian linear regression.

For f = J theta with Gaussian noise, the Laplace approximation is exact: the evidence is
log N(vec y | 0, sigma^2 I + J D^-1 J^T) and the predictive is the Gaussian posterior
predictive. Checked for every structure (diag with an orthogonal design) and every
prior structure, including the K-FAC bias-column correction (layerwise / unitwise) and
the dense K-FAC path ("parameter").
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bdl_core.laplace import Laplace

DT = torch.float64
N, D, C = 20, 3, 2


def linear_jacobian(X: torch.Tensor, n_out: int, bias: bool) -> torch.Tensor:
    """(N * C, P) Jacobian of nn.Linear outputs w.r.t. [W row-major, b]."""
    n, d = X.shape
    eye = torch.eye(n_out, dtype=X.dtype)
    Jw = torch.einsum("nj,ik->nikj", X, eye).reshape(n, n_out, n_out * d)
    J = torch.cat([Jw, eye.expand(n, n_out, n_out)], dim=-1) if bias else Jw
    return J.reshape(n * n_out, -1)


def exact_blr(J, y_vec, prior_diag, sigma):
    """Closed-form evidence, posterior mean and covariance of y = J theta + noise."""
    K = J @ torch.diag(prior_diag.reciprocal()) @ J.T + sigma**2 * torch.eye(J.shape[0], dtype=DT)
    evidence = torch.distributions.MultivariateNormal(torch.zeros(J.shape[0], dtype=DT), K).log_prob(y_vec)
    precision = J.T @ J / sigma**2 + torch.diag(prior_diag)
    cov = torch.linalg.inv(precision)
    mean = cov @ J.T @ y_vec / sigma**2
    return evidence, mean, cov


def fitted_laplace(X, y, structure, prior, bias=True, seed=0, sigma=0.7):
    torch.manual_seed(seed)
    model = nn.Linear(X.shape[1], C, bias=bias).to(DT)
    la = Laplace(model, "regression", structure, prior=prior, sigma_noise=sigma)
    if prior != "scalar":
        la.prior.set_(torch.rand(la.prior.n_hyper, dtype=DT) * 2 + 0.3)
    else:
        la.prior.set_(1.7)
    prior_diag = la.prior_diagonal().detach()
    J = linear_jacobian(X, C, bias)
    evidence, theta, cov = exact_blr(J, y.reshape(-1), prior_diag, sigma)
    nn.utils.vector_to_parameters(theta, model.parameters())
    la.fit(X, y)
    return la, evidence, cov, theta


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(N, D, generator=g, dtype=DT)
    y = X @ torch.randn(D, C, generator=g, dtype=DT) + 0.3 * torch.randn(N, C, generator=g, dtype=DT)
    Xs = torch.randn(5, D, generator=g, dtype=DT)
    return X, y, Xs


@pytest.mark.parametrize("structure", ["full", "kron", "function"])
@pytest.mark.parametrize("prior", ["scalar", "layerwise", "unitwise", "parameter"])
def test_evidence_and_predictive_match_bayesian_linear_regression(data, structure, prior):
    X, y, Xs = data
    la, evidence, cov, theta = fitted_laplace(X, y, structure, prior)
    assert torch.allclose(la.log_marginal_likelihood(), evidence, rtol=1e-9, atol=1e-9)
    mean, var = la.predict(Xs)
    Js = linear_jacobian(Xs, C, True)
    assert torch.allclose(mean.reshape(-1), Js @ theta, atol=1e-10)
    assert torch.allclose(var.reshape(-1), (Js @ cov @ Js.T).diagonal(), rtol=1e-8, atol=1e-12)
    jmean, jcov = la.predict(Xs, joint=True, observation_noise=True)
    exact_joint = Js @ cov @ Js.T + la.sigma_noise**2 * torch.eye(Js.shape[0], dtype=DT)
    assert torch.allclose(jcov, exact_joint, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("prior", ["scalar", "parameter"])
def test_diag_is_exact_for_an_orthogonal_design(prior):
    g = torch.Generator().manual_seed(2)
    Q, _ = torch.linalg.qr(torch.randn(N, D, generator=g, dtype=DT))
    X = Q * torch.tensor([3.0, 1.5, 0.5], dtype=DT)  # orthogonal columns -> diagonal GGN
    y = torch.randn(N, C, generator=g, dtype=DT)
    la, evidence, cov, _ = fitted_laplace(X, y, "diag", prior, bias=False)
    assert torch.allclose(la.log_marginal_likelihood(), evidence, rtol=1e-9)
    assert torch.allclose(la.posterior_precision.covariance_diagonal(), cov.diagonal(), rtol=1e-9)


def test_evidence_at_other_hyperparameters_without_refit(data):
    """Changing prior or sigma uses the stored curvature and residuals (no refit)."""
    X, y, _ = data
    la, _, _, theta = fitted_laplace(X, y, "kron", "layerwise")
    J = linear_jacobian(X, C, True)
    values = torch.tensor([0.4, 2.5], dtype=DT)
    prior_diag = la.prior_diagonal(values).detach()
    # theta is not the MAP for these values, so the closed-form evidence does not apply;
    # compare against the Laplace formula written out densely.
    precision = J.T @ J / 0.25 + torch.diag(prior_diag)
    resid = y.reshape(-1) - J @ theta
    explicit = (
        -0.5 * J.shape[0] * torch.log(torch.tensor(2 * torch.pi * 0.25, dtype=DT))
        - 0.5 * resid.pow(2).sum() / 0.25
        - 0.5 * (torch.logdet(precision) - prior_diag.log().sum() + (theta**2 * prior_diag).sum())
    )
    assert torch.allclose(la.log_marginal_likelihood(values, 0.5), explicit, rtol=1e-10)
