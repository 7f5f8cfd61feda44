"""Rank-one linear-layer Jacobian factors give the same answers as full Jacobians.

``Laplace.functional_distribution`` takes the rank-one path for K-FAC, diagonal and full
posteriors over plain ``nn.Linear`` stacks, and ``diag_ggn`` / ``full_ggn`` use it for the
exact GGN diagonal and matrix; all must agree with the generic path (full per-example Jacobians) for every
prior they cover, with and without biases, keep gradients w.r.t. the inputs, and step
aside for models they do not cover.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bdl_core.curvature import diag_ggn, full_ggn, jacobians, output_hessian_sqrt
from bdl_core.curvature.linear_jacobian_factors import linear_jacobian_factors
from bdl_core.laplace import Laplace, predictive

DT = torch.float64


def fitted(prior, likelihood="classification", bias=True, subset="all", structure="kron"):
    g = torch.Generator().manual_seed(3)
    X = torch.randn(40, 5, generator=g, dtype=DT)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7, bias=bias), nn.Tanh(), nn.Linear(7, 6), nn.GELU(),
                          nn.Linear(6, 3, bias=bias)).to(DT)
    y = torch.randint(0, 3, (40,), generator=g) if likelihood == "classification" else torch.randn(40, 3, generator=g, dtype=DT)
    la = Laplace(model, likelihood, structure, prior=prior, subset=subset)
    la.prior.set_(torch.rand(la.prior.n_hyper, dtype=DT, generator=g) * 2 + 0.2)
    return la.fit(X, y), X


def generic(la, X):
    return predictive.glm_predictive(la.model, la.layout, la.posterior_precision, X, chunk_size=7)


CASES = ([("kron", p) for p in ("scalar", "layerwise", "unitwise")] + [("diag", "parameter"), ("diag", "unitwise")]
         + [("full", p) for p in ("scalar", "unitwise", "parameter")]
         + [("function", p) for p in ("scalar", "layerwise", "parameter")])


@pytest.mark.parametrize("structure,prior", CASES)
@pytest.mark.parametrize("likelihood", ["classification", "regression"])
@pytest.mark.parametrize("bias", [True, False])
def test_rank_one_path_equals_jacobian_path(structure, prior, likelihood, bias):
    la, X = fitted(prior, likelihood, bias, structure=structure)
    Xt = torch.randn(11, 5, dtype=DT, generator=torch.Generator().manual_seed(5))
    fast = predictive.glm_predictive_rank_one(la.layout, la.posterior_precision, Xt, chunk_size=4)
    assert fast is not None
    slow = generic(la, Xt)
    torch.testing.assert_close(fast[0], slow[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast[1], slow[1], rtol=1e-9, atol=1e-12)
    # and the public entry point takes it
    mean, cov = la.functional_distribution(Xt)
    torch.testing.assert_close(cov, slow[1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("structure", ["kron", "full", "function"])
def test_rank_one_path_on_the_last_layer(structure):
    la, _ = fitted("layerwise", subset="last_layer", structure=structure)
    Xt = torch.randn(9, 5, dtype=DT)
    fast = predictive.glm_predictive_rank_one(la.layout, la.posterior_precision, Xt, chunk_size=100)
    torch.testing.assert_close(fast[1], generic(la, Xt)[1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("structure", ["kron", "full", "function"])
def test_rank_one_path_keeps_input_gradients(structure):
    la, _ = fitted("scalar", "regression", structure=structure)
    X1 = torch.randn(6, 5, dtype=DT, requires_grad=True)
    X2 = X1.detach().clone().requires_grad_(True)
    mean1, cov1 = la.functional_distribution(X1)
    (mean1.sum() + cov1.diagonal(dim1=-2, dim2=-1).sqrt().sum()).backward()
    mean2, cov2 = generic(la, X2)
    (mean2.sum() + cov2.diagonal(dim1=-2, dim2=-1).sqrt().sum()).backward()
    assert X1.grad is not None and X1.grad.abs().sum() > 0
    torch.testing.assert_close(X1.grad, X2.grad, rtol=1e-8, atol=1e-10)


def test_full_rank_one_variance_in_small_workspace_chunks(monkeypatch):
    from bdl_core.laplace import full_precision

    la, X = fitted("scalar", "classification", structure="full")
    expected = generic(la, X[:10])[1]
    monkeypatch.setattr(full_precision, "FACTOR_WORKSPACE", 100)  # one input per chunk
    torch.testing.assert_close(la.functional_distribution(X[:10])[1], expected, rtol=1e-9, atol=1e-12)


def test_function_rank_one_variance_over_fit_batches_and_small_workspace(monkeypatch):
    from bdl_core.laplace import function_precision

    g = torch.Generator().manual_seed(8)
    X, y = torch.randn(30, 5, generator=g, dtype=DT), torch.randint(0, 3, (30,), generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3)).to(DT)
    la = Laplace(model, "classification", "function", prior="layerwise", fit_batch_size=7).fit(X, y)
    assert la.posterior_precision.supports_rank_one_factors()
    Xt = torch.randn(8, 5, generator=g, dtype=DT)
    expected = generic(la, Xt)[1]
    monkeypatch.setattr(function_precision, "FACTOR_WORKSPACE", 30)  # one test input per chunk
    torch.testing.assert_close(la.functional_distribution(Xt)[1], expected, rtol=1e-9, atol=1e-12)


def conv_net():
    return nn.Sequential(nn.Unflatten(1, (1, 4, 4)), nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(),
                         nn.Linear(8, 2))


class SharedLinear(nn.Module):
    """A linear layer over (N, R, D) inputs (weight sharing), then a head."""

    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(3, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(torch.tanh(self.inner(x.reshape(x.shape[0], 2, 3))).mean(1))


@pytest.mark.parametrize("structure", ["kron", "function"])
@pytest.mark.parametrize("model_cls,d_in", [(conv_net, 16), (SharedLinear, 6)])
def test_models_outside_the_rank_one_case_fall_back(model_cls, d_in, structure):
    torch.manual_seed(0)
    model = model_cls().to(DT)
    X = torch.randn(20, d_in, dtype=DT)
    y = torch.randn(20, 2, dtype=DT)
    la = Laplace(model, "regression", structure).fit(X, y)
    assert linear_jacobian_factors(la.layout, X[:4]) is None
    mean, cov = la.functional_distribution(X[:4])  # the generic path answers
    torch.testing.assert_close(cov, generic(la, X[:4])[1])


def test_parameter_prior_is_not_rank_one_capable():
    la, X = fitted("parameter")
    assert not la.posterior_precision.supports_rank_one_factors()
    assert predictive.glm_predictive_rank_one(la.layout, la.posterior_precision, X[:3], 2) is None


@pytest.mark.parametrize("likelihood", ["classification", "regression"])
@pytest.mark.parametrize("subset", ["all", "last_layer"])
def test_diag_ggn_from_factors_equals_jacobian_sum(likelihood, subset):
    la, X = fitted("scalar", likelihood, subset=subset, structure="diag")
    f, J = jacobians(la.model, X, la.layout)
    L = output_hessian_sqrt(f, likelihood)
    expected = torch.einsum("nck,ncp->nkp", L, J).pow(2).sum(dim=(0, 1))
    y = torch.zeros(X.shape[0], dtype=torch.long)
    got = diag_ggn(la.model, X, y, likelihood, la.layout, chunk_size=13)
    assert linear_jacobian_factors(la.layout, X) is not None  # the rank-one path was available
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("likelihood", ["classification", "regression"])
@pytest.mark.parametrize("subset", ["all", "last_layer"])
@pytest.mark.parametrize("bias", [True, False])
def test_full_ggn_from_factors_equals_jacobian_sum(likelihood, subset, bias, monkeypatch):
    from bdl_core.curvature import full as full_module

    la, X = fitted("scalar", likelihood, bias=bias, subset=subset, structure="diag")
    f, J = jacobians(la.model, X, la.layout)
    LJ = torch.einsum("nck,ncp->nkp", output_hessian_sqrt(f, likelihood), J).reshape(-1, J.shape[-1])
    expected = LJ.T @ LJ
    y = torch.zeros(X.shape[0], dtype=torch.long)
    assert linear_jacobian_factors(la.layout, X) is not None  # the rank-one path was available
    torch.testing.assert_close(full_ggn(la.model, X, y, likelihood, la.layout, chunk_size=13), expected,
                               rtol=1e-10, atol=1e-12)
    monkeypatch.setattr(full_module, "OUTER_PRODUCT_BUDGET", 50)  # several row chunks per block
    torch.testing.assert_close(full_ggn(la.model, X, y, likelihood, la.layout), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("model_cls,d_in", [(conv_net, 16), (SharedLinear, 6)])
def test_full_ggn_of_models_outside_the_rank_one_case(model_cls, d_in):
    torch.manual_seed(0)
    model = model_cls().to(DT)
    layout = Laplace(model, "regression", "full").layout
    X = torch.randn(9, d_in, dtype=DT)
    _, J = jacobians(model, X, layout)
    torch.testing.assert_close(full_ggn(model, X, torch.zeros(9, 2, dtype=DT), "regression", layout, chunk_size=4),
                               torch.einsum("ncp,ncq->pq", J, J))


@pytest.mark.parametrize("likelihood", ["classification", "regression"])
@pytest.mark.parametrize("subset", ["all", "last_layer"])
@pytest.mark.parametrize("bias", [True, False])
def test_ggn_rows_from_factors_equal_whitened_jacobians(likelihood, subset, bias):
    from bdl_core.curvature.ggn_rows import ggn_row_chunks

    la, X = fitted("scalar", likelihood, bias=bias, subset=subset, structure="diag")
    f, J = jacobians(la.model, X, la.layout)
    expected = torch.einsum("nck,ncp->nkp", output_hessian_sqrt(f, likelihood), J)
    chunks = list(ggn_row_chunks(la.model, X, la.layout, likelihood, chunk_size=16))
    assert len(chunks) == 3 and all(rows.factors is not None for rows in chunks)
    torch.testing.assert_close(torch.cat([rows.to_dense() for rows in chunks]), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("model_cls,d_in", [(conv_net, 16), (SharedLinear, 6)])
def test_ggn_rows_of_other_models_come_from_jacobians(model_cls, d_in):
    from bdl_core.curvature.ggn_rows import ggn_row_chunks

    torch.manual_seed(0)
    model = model_cls().to(DT)
    layout = Laplace(model, "regression", "full").layout
    X = torch.randn(5, d_in, dtype=DT)
    (rows,) = ggn_row_chunks(model, X, layout, "regression")
    assert rows.factors is None
    torch.testing.assert_close(rows.to_dense(), jacobians(model, X, layout)[1])
