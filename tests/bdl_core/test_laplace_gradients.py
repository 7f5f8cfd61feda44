"""Gradients of the Laplace evidence w.r.t. log prior precisions and log sigma.

Autograd gradients (through Cholesky, eigenvalues, the K-FAC bias correction, the
implicit-gradient log-determinant of unitwise K-FAC blocks, the dense and the projected
K-FAC blocks, and the function-space kernel) are compared with central finite
differences for every structure and prior structure.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bdl_core.laplace import Laplace

DT = torch.float64


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(7)
    X = torch.randn(12, 2, generator=g, dtype=DT)
    y = torch.cat([torch.sin(2 * X[:, :1]), X[:, 1:] ** 2], dim=1)
    return X, y


def fitted(structure, prior, data, **kwargs):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2)).to(DT)
    la = Laplace(model, "regression", structure, prior=prior, sigma_noise=0.6, **kwargs)
    la.prior.set_(torch.rand(la.prior.n_hyper, dtype=DT) * 2 + 0.2)
    return la.fit(*data)


def finite_difference(fn, x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    out = torch.empty_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step.view(-1)[i] = eps
        out.view(-1)[i] = (fn(x + step) - fn(x - step)) / (2 * eps)
    return out


CASES = [(s, p) for s in ("full", "diag", "kron", "function")
         for p in ("scalar", "layerwise", "unitwise", "parameter")]


@pytest.mark.parametrize("structure,prior", CASES)
def test_evidence_gradients_match_finite_differences(structure, prior, data):
    la = fitted(structure, prior, data)
    lml = la.log_marginal_likelihood()
    g_prior, g_sigma = torch.autograd.grad(lml, [la.prior.log_precision, la.log_sigma_noise])
    log_prec = la.prior.log_precision.detach().clone()
    log_sigma = la.log_sigma_noise.detach().clone()

    def at(log_p, log_s):
        with torch.no_grad():
            return la.log_marginal_likelihood(log_p.exp(), log_s.exp())

    fd_prior = finite_difference(lambda v: at(v, log_sigma), log_prec)
    fd_sigma = finite_difference(lambda v: at(log_prec, v), log_sigma)
    assert torch.allclose(g_prior, fd_prior, rtol=1e-5, atol=1e-7)
    assert torch.allclose(g_sigma, fd_sigma, rtol=1e-5, atol=1e-7)


def test_projected_kron_blocks_gradients(data):
    """The approximate (projected) K-FAC path for large 'parameter' blocks is differentiable too."""
    la = fitted("kron", "parameter", data, kron_dense_limit=0)
    lml = la.log_marginal_likelihood()
    g = torch.autograd.grad(lml, la.prior.log_precision)[0]
    base = la.prior.log_precision.detach().clone()
    fd = finite_difference(lambda v: la.log_marginal_likelihood(v.exp()).detach(), base)
    assert torch.allclose(g, fd, rtol=1e-5, atol=1e-7)


def test_gradient_wrt_passed_hyperparameters(data):
    """Values passed to log_marginal_likelihood are differentiable as given (scalar)."""
    la = fitted("function", "scalar", data)
    delta = torch.tensor(0.8, dtype=DT, requires_grad=True)
    sigma = torch.tensor(0.3, dtype=DT, requires_grad=True)
    g_delta, g_sigma = torch.autograd.grad(la.log_marginal_likelihood(delta, sigma), [delta, sigma])
    with torch.no_grad():
        fd_delta = (la.log_marginal_likelihood(0.8 + 1e-6, 0.3) - la.log_marginal_likelihood(0.8 - 1e-6, 0.3)) / 2e-6
        fd_sigma = (la.log_marginal_likelihood(0.8, 0.3 + 1e-6) - la.log_marginal_likelihood(0.8, 0.3 - 1e-6)) / 2e-6
    assert torch.allclose(g_delta, fd_delta, rtol=1e-5)
    assert torch.allclose(g_sigma, fd_sigma, rtol=1e-5)
