"""Stochastic (partition) lower bounds on the function-space Laplace evidence.

Checks against the exact full-batch evidence (Fischer's inequality: never above it,
equal with one block), against a brute-force construction of the blocks of
M = I + Lambda^1/2 J P0^-1 J^T Lambda^1/2 / sigma^2, and the gradients.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

from bdl_core.laplace import Laplace
from bdl_core.marglik import partition_indices, stochastic_log_marginal_likelihood

N = 12


def _problem(likelihood: str, n_outputs: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, n_outputs)).double()
    X = torch.randn(N, 2, generator=g, dtype=torch.float64)
    if likelihood == "regression":
        y = torch.randn(N, n_outputs, generator=g, dtype=torch.float64)
        sigma = 0.4
    else:
        y = torch.randint(0, n_outputs, (N,), generator=g)
        sigma = 1.0
    la = Laplace(model, likelihood, structure="function", prior="layerwise",
                 prior_precision=torch.tensor([0.5, 2.0, 1.5, 3.0], dtype=torch.float64),
                 sigma_noise=sigma).fit(X, y)
    return la, X, y


CASES = [("regression", 1), ("regression", 2), ("classification", 3)]


@pytest.mark.parametrize("likelihood,n_outputs", CASES)
def test_full_batch_bound_equals_evidence(likelihood, n_outputs):
    la, X, y = _problem(likelihood, n_outputs)
    exact = la.log_marginal_likelihood()
    # the function-space evidence equals the weight-space one with the full GGN
    full = Laplace(la.model, likelihood, structure="full", prior="layerwise",
                   prior_precision=la.prior_precision, sigma_noise=la.sigma_noise).fit(X, y)
    torch.testing.assert_close(full.log_marginal_likelihood(), exact, rtol=1e-10, atol=1e-9)
    bound = stochastic_log_marginal_likelihood(la, X, y, batch_size=N, mode="batch",
                                               generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(bound, exact, rtol=1e-10, atol=1e-9)
    if n_outputs == 1:  # a single output: the per-output split is no split
        bound_out = stochastic_log_marginal_likelihood(la, X, y, batch_size=N, mode="output")
        torch.testing.assert_close(bound_out, exact, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("likelihood,n_outputs", CASES)
@pytest.mark.parametrize("mode", ["batch", "output"])
def test_bound_never_exceeds_evidence(likelihood, n_outputs, mode):
    la, X, y = _problem(likelihood, n_outputs, seed=1)
    exact = la.log_marginal_likelihood().item()
    gaps = []
    for batch_size in (1, 3, 5, 8):
        for seed in range(3):
            bound = stochastic_log_marginal_likelihood(
                la, X, y, batch_size, mode=mode, generator=torch.Generator().manual_seed(seed)
            ).item()
            assert bound <= exact + 1e-9, (batch_size, seed, bound, exact)
            gaps.append(exact - bound)
    # the bound is not trivially the exact value: splitting loses the cross-covariances
    assert min(gaps) > 1e-3
    # one example per block is the loosest partition in "batch" mode (Fischer is monotone
    # under refinement): every coarser partition is at least as tight
    if mode == "batch":
        singles = stochastic_log_marginal_likelihood(la, X, y, 1, mode="batch").item()
        assert max(gaps) <= exact - singles + 1e-9


def _brute_force_block_logdet(la, X, blocks, mode):
    """Sum of log det of explicit blocks of M (or of its diag(p)-bounded version)."""
    params = {n: p.detach() for n, p in la.model.named_parameters()}
    J = jacrev(lambda p: functional_call(la.model, p, (X,)))(params)
    J = torch.cat([J[n].reshape(N, -1, params[n].numel()) for n in params], dim=-1)  # (N, C, P)
    with torch.no_grad():
        f = la.model(X)
    c = f.shape[1]
    prior = la.prior.diagonal().detach()
    scale = la.sigma_noise.pow(-2) if la.likelihood == "regression" else 1.0
    K = torch.einsum("ncp,p,mdp->ncmd", J, 1 / prior, J)  # (N, C, N, C)
    if la.likelihood == "classification":
        p = torch.softmax(f, -1)
        lam = torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)
        if mode == "output":
            lam = torch.diag_embed(p)  # Loewner upper bound of the output Hessian
    else:
        lam = torch.eye(c, dtype=f.dtype).expand(N, c, c)
    vals, vecs = torch.linalg.eigh(lam)
    root = vecs @ torch.diag_embed(vals.clamp_min(0).sqrt()) @ vecs.mT  # symmetric sqrt
    R = torch.block_diag(*root)  # (NC, NC)
    M = torch.eye(N * c, dtype=f.dtype) + scale * R @ K.reshape(N * c, N * c) @ R
    total = 0.0
    for idx in blocks:
        if mode == "batch":
            rows = (idx.unsqueeze(1) * c + torch.arange(c)).reshape(-1)
            total += torch.logdet(M[rows][:, rows])
        else:
            for k in range(c):
                rows = idx * c + k
                total += torch.logdet(M[rows][:, rows])
    return total


@pytest.mark.parametrize("likelihood,n_outputs", CASES)
@pytest.mark.parametrize("mode", ["batch", "output"])
def test_bound_matches_brute_force_blocks(likelihood, n_outputs, mode):
    la, X, y = _problem(likelihood, n_outputs, seed=2)
    blocks = partition_indices(N, 5, shuffle=True, generator=torch.Generator().manual_seed(7))
    logdet = _brute_force_block_logdet(la, X, blocks, mode)
    theta = la.theta_map
    with torch.no_grad():
        f = la.model(X)
        if likelihood == "regression":
            log_lik = torch.distributions.Normal(f, la.sigma_noise).log_prob(y).sum()
        else:
            log_lik = -torch.nn.functional.cross_entropy(f, y, reduction="sum")
        expected = log_lik - 0.5 * (logdet + (la.prior.diagonal() * theta**2).sum())
    bound = stochastic_log_marginal_likelihood(la, X, y, 5, mode=mode,
                                               generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(bound.detach(), expected, rtol=1e-10, atol=1e-9)


def test_partition_covers_every_index_once():
    blocks = partition_indices(11, 4, generator=torch.Generator().manual_seed(0))
    assert [len(b) for b in blocks] == [4, 4, 3]
    assert sorted(torch.cat(blocks).tolist()) == list(range(11))
    assert torch.cat(partition_indices(5, 2, shuffle=False)).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("mode", ["batch", "output"])
def test_bound_gradients_match_finite_differences(mode):
    la, X, y = _problem("regression", 2, seed=3)

    def value(log_prior, log_sigma):
        return stochastic_log_marginal_likelihood(
            la, X, y, 4, mode=mode, shuffle=False,
            prior_precision=log_prior.exp(), sigma_noise=log_sigma.exp())

    log_prior = torch.tensor([0.1, -0.3, 0.4, 0.2], dtype=torch.float64, requires_grad=True)
    log_sigma = torch.tensor(-0.7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(value, (log_prior, log_sigma))
    # the stored hyperparameters are differentiable too (default arguments)
    stochastic_log_marginal_likelihood(la, X, y, 4, mode=mode).backward()
    assert la.prior.log_precision.grad.abs().min() > 0
    assert la.log_sigma_noise.grad.abs() > 0


def test_bound_refuses_moved_network():
    la, X, y = _problem("regression", 1)
    with torch.no_grad():
        next(la.model.parameters()).add_(0.1)
    with pytest.raises(ValueError, match="changed"):
        stochastic_log_marginal_likelihood(la, X, y, 4)
