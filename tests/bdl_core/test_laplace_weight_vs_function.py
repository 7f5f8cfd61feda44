"""Weight-space (full GGN) and function-space (GP / NTK) Laplace agree on a nonlinear MLP.

By the matrix determinant lemma and Woodbury, the full-GGN evidence and the linearised
predictive equal their (N*C)-dimensional function-space forms, for regression and for
classification (rank-deficient softmax Hessians), and for every prior structure.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bdl_core.laplace import Laplace

DT = torch.float64


def mlp(n_in: int, n_out: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(n_in, 5), nn.Tanh(), nn.Linear(5, n_out)).to(DT)


def problem(likelihood: str):
    g = torch.Generator().manual_seed(3)
    X = torch.randn(15, 2, generator=g, dtype=DT)
    if likelihood == "regression":
        y = torch.sin(X @ torch.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=DT))
        return X, y, mlp(2, 2)
    y = torch.randint(0, 3, (15,), generator=g)
    return X, y, mlp(2, 3)


@pytest.mark.parametrize("likelihood", ["regression", "classification"])
@pytest.mark.parametrize("prior", ["scalar", "unitwise", "parameter"])
def test_full_and_function_space_agree(likelihood, prior):
    X, y, model = problem(likelihood)
    sigma = 0.4 if likelihood == "regression" else 1.0
    las = {}
    for structure in ("full", "function"):
        la = Laplace(model, likelihood, structure, prior=prior, sigma_noise=sigma)
        torch.manual_seed(5)
        la.prior.set_(torch.rand(la.prior.n_hyper, dtype=DT) + 0.5)
        las[structure] = la.fit(X, y)
    full, func = las["full"], las["function"]
    assert torch.allclose(full.log_marginal_likelihood(), func.log_marginal_likelihood(), rtol=1e-10)
    Pf, Pg = full.posterior_precision, func.posterior_precision
    assert torch.allclose(Pf.logdet(), Pg.logdet(), rtol=1e-10)
    assert torch.allclose(Pf.to_dense(), Pg.to_dense(), rtol=1e-10, atol=1e-12)
    Xs = torch.randn(4, 2, dtype=DT)
    m1, c1 = full.functional_distribution(Xs)
    m2, c2 = func.functional_distribution(Xs)
    assert torch.allclose(m1, m2) and torch.allclose(c1, c2, rtol=1e-8, atol=1e-12)
    m1, c1 = full.functional_distribution(Xs, joint=True)
    m2, c2 = func.functional_distribution(Xs, joint=True)
    assert torch.allclose(c1, c2, rtol=1e-8, atol=1e-12)
    v = torch.randn(full.n_params, 2, dtype=DT)
    assert torch.allclose(Pf.solve(v), Pg.solve(v), rtol=1e-8, atol=1e-12)
    assert torch.allclose(Pf.covariance_diagonal(), Pg.covariance_diagonal(), rtol=1e-8)
