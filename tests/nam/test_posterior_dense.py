"""The batched K-FAC posterior of the additive model against dense brute-force computations (float64)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

from bdl_core.curvature import KronCurvature, ParameterLayout
from bdl_core.nam.additive_model import AdditiveModel
from bdl_core.nam.curvature import AdditiveCurvature, kfac_curvature
from bdl_core.nam.fitted import FittedAdditiveModel
from bdl_core.nam.posterior import AdditivePosterior, KronEigens
from bdl_core.nam.prior import AdditivePrior
from bdl_core.nam.terms import Feature, Term

FEATURES = [Feature("a"), Feature("b"), Feature("c", 3), Feature("d", 2)]
TERMS = [Term((0,)), Term((1,)), Term((2,)), Term((3,)), Term((0, 1)), Term((1, 2)), Term((2, 3))]


def _data(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, generator=g, dtype=torch.float64)
    X[:, 2] = torch.randint(0, 3, (n,), generator=g).double()
    X[:, 3] = torch.randint(0, 2, (n,), generator=g).double()
    return X


def _fitted(likelihood: str) -> tuple[FittedAdditiveModel, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = AdditiveModel(FEATURES, TERMS, hidden=[3], dtype=torch.float64, seed=1)
    with torch.no_grad():
        model.table.normal_()
        model.intercept.fill_(0.3)
    prior = AdditivePrior(model)
    with torch.no_grad():
        prior.log_mlp.copy_(torch.randn_like(prior.log_mlp))
        prior.log_table.copy_(torch.randn_like(prior.log_table))
    X = _data(25, 2)
    y = torch.randn(25, dtype=torch.float64) if likelihood == "regression" else torch.randint(0, 2, (25,)).double()
    log_sigma = torch.tensor(math.log(0.7) if likelihood == "regression" else 0.0, dtype=torch.float64)
    fitted = FittedAdditiveModel(model, prior, log_sigma, likelihood).refresh(X, y)
    return fitted, X, y


def _term_jacobians(model: AdditiveModel, X: torch.Tensor) -> torch.Tensor:
    """(M, T, P) Jacobians of every term output in parameters_to_vector order."""
    params = {name: p.detach() for name, p in model.named_parameters()}

    jac = jacrev(lambda p: _call_terms(model, p, X))(params)
    return torch.cat([jac[name].reshape(X.shape[0], model.n_terms, -1) for name in params], dim=-1)


def _call_terms(model: AdditiveModel, params: dict, X: torch.Tensor) -> torch.Tensor:
    class Wrapper(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner.term_outputs(x)

    return functional_call(Wrapper(model), {f"inner.{k}": v for k, v in params.items()}, (X,))


@pytest.mark.parametrize("likelihood", ["regression", "classification"])
def test_term_bands_equal_dense_jacobian_covariance(likelihood: str) -> None:
    fitted, _, _ = _fitted(likelihood)
    X_grid = _data(7, 5)
    _, var = fitted.term_moments(X_grid)
    J = _term_jacobians(fitted.model, X_grid)  # (M, T, P)
    Sigma = torch.linalg.inv(fitted.posterior.dense_precision(fitted.model))
    dense = torch.einsum("mtp,pq,mtq->mt", J, Sigma, J)
    torch.testing.assert_close(var, dense, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("likelihood", ["regression", "classification"])
def test_logdet_and_evidence_pieces_equal_dense(likelihood: str) -> None:
    fitted, X, y = _fitted(likelihood)
    post, model = fitted.posterior, fitted.model
    P = post.dense_precision(model)
    torch.testing.assert_close(post.logdet(), torch.linalg.slogdet(P)[1], rtol=1e-10, atol=1e-8)
    curv = post.eigens.curvature
    zero = AdditiveCurvature(A=[torch.zeros_like(a) for a in curv.A], G=[torch.zeros_like(g) for g in curv.G],
                             table=torch.zeros_like(curv.table), intercept=torch.zeros_like(curv.intercept),
                             n_data=curv.n_data, data_fit=curv.data_fit)
    P0 = AdditivePosterior(KronEigens(zero), fitted.prior, likelihood, fitted.log_sigma).dense_precision(model)
    assert torch.count_nonzero(P0 - torch.diag(P0.diagonal())) == 0
    torch.testing.assert_close(post.prior_logdet(), P0.diagonal().log().sum(), rtol=1e-10, atol=1e-8)
    theta = nn.utils.parameters_to_vector(model.parameters()).detach()
    f = model(X).detach()
    if likelihood == "regression":
        sigma = 0.7
        log_lik = torch.distributions.Normal(f, sigma).log_prob(y).sum()
    else:
        log_lik = torch.distributions.Bernoulli(logits=f).log_prob(y).sum()
    expected = log_lik - 0.5 * (torch.linalg.slogdet(P)[1] - P0.diagonal().log().sum() + theta @ P0 @ theta)
    torch.testing.assert_close(post.log_marginal_likelihood(model), expected, rtol=1e-10, atol=1e-8)


def test_last_layer_blocks_are_the_exact_ggn_for_regression() -> None:
    """K-FAC is exact for an output layer under a Gaussian likelihood (one block per subnetwork)."""
    fitted, X, _ = _fitted("regression")
    model = fitted.model
    J = _term_jacobians(model, X).sum(1)  # (N, P) Jacobian of f (the intercept's column aside)
    sizes = [p.numel() for p in model.parameters()]
    starts = dict(zip([n for n, _ in model.named_parameters()], torch.cumsum(torch.tensor([0] + sizes), 0).tolist()))
    P = fitted.posterior.dense_precision(model)
    G, _, hidden = model.mlp.weights[1].shape
    for g in range(G):
        sl = slice(starts["mlp.weights.1"] + g * hidden, starts["mlp.weights.1"] + (g + 1) * hidden)
        exact = J[:, sl].T @ J[:, sl] / 0.7**2 + fitted.prior.log_mlp[g, 1].exp().detach() * torch.eye(hidden, dtype=torch.float64)
        torch.testing.assert_close(P[sl, sl], exact, rtol=1e-9, atol=1e-10)


def test_kfac_factors_match_bdl_core_kron_curvature_on_an_equivalent_network() -> None:
    fitted, X, y = _fitted("regression")
    model = fitted.model
    curv = kfac_curvature(model, X, y, "regression")
    g = model.layout.mlp_terms.index(1)  # the subnetwork of feature 1
    net = nn.Sequential(nn.Linear(1, 3), nn.GELU(), nn.Linear(3, 1, bias=False)).double()
    with torch.no_grad():
        net[0].weight.copy_(model.mlp.weights[0][g, :, :1])
        net[0].bias.copy_(model.mlp.biases[0][g])
        net[2].weight.copy_(model.mlp.weights[1][g])
    reference = KronCurvature(net, ParameterLayout(net), "regression")
    reference.update(X[:, 1:2], y.reshape(-1, 1))
    blocks = reference.blocks()
    width = model.layout.in_width
    A0 = curv.A[0][g]
    keep = [0, width]  # the real input and the bias column of the padded first layer
    torch.testing.assert_close(A0[keep][:, keep], blocks[0].A)
    torch.testing.assert_close(curv.G[0][g], blocks[0].G)
    torch.testing.assert_close(curv.A[1][g], blocks[1].A)
    torch.testing.assert_close(curv.G[1][g], blocks[1].G)
