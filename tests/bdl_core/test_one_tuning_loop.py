"""The one hyperparameter object, the one evidence-tuning loop and the one Gaussian log density."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bdl_core.bo.function_space_evidence import function_space_log_evidence
from bdl_core.hyperparameters import Hyperparameters
from bdl_core.laplace import maximise_evidence
from bdl_core.likelihood import Likelihood, gaussian_log_likelihood

F64 = torch.float64


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gaussian_log_likelihood_is_the_normal_log_density(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    residual = torch.randn(7, 3, dtype=dtype)
    sigma = torch.tensor([0.5, 1.0, 2.0], dtype=dtype)
    expected = torch.distributions.Normal(0.0, sigma).log_prob(residual)
    torch.testing.assert_close(gaussian_log_likelihood(residual.pow(2), sigma.pow(2)), expected)  # per entry
    summed = gaussian_log_likelihood(residual.pow(2).sum(0), sigma.pow(2), 7)  # per output, n = 7
    torch.testing.assert_close(summed, expected.sum(0))
    nll = Likelihood.REGRESSION.negative_log_likelihood(residual[:, :1], torch.zeros(7, 1, dtype=dtype), sigma[0])
    torch.testing.assert_close(nll, -expected[:, 0].sum())


def test_one_output_evidence_is_the_m_equals_one_case_of_the_multi_output_one() -> None:
    torch.manual_seed(0)
    n, groups = 5, 3
    jac = torch.randn(groups, n, 4, dtype=F64)
    grams = jac @ jac.mT
    theta_sq = torch.rand(groups, dtype=F64)
    log_prior = torch.tensor([0.1, -0.3, 0.4], dtype=F64)
    one = function_space_log_evidence(grams, torch.tensor(2.0, dtype=F64), theta_sq, log_prior,
                                      torch.tensor(-0.7, dtype=F64))
    as_vector = function_space_log_evidence(grams, torch.tensor([2.0], dtype=F64), theta_sq, log_prior,
                                            torch.tensor([-0.7], dtype=F64))
    torch.testing.assert_close(one, as_vector)
    # By hand: Gaussian data fit at sigma, minus half of log det(I + K / sigma^2) and the prior scatter.
    kernel = torch.einsum("g,gij->ij", log_prior.exp().reciprocal(), grams)
    sigma2 = math.exp(-1.4)
    logdet = torch.linalg.slogdet(torch.eye(n, dtype=F64) + kernel / sigma2).logabsdet
    by_hand = (-0.5 * n * math.log(2 * math.pi * sigma2) - 0.5 * 2.0 / sigma2
               - 0.5 * (logdet + (log_prior.exp() * theta_sq).sum()))
    torch.testing.assert_close(one, by_hand)


def test_maximise_evidence_respects_the_floor_and_the_prior_bounds_and_clone_is_independent() -> None:
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2)).to(F64)
    hypers = Hyperparameters.for_network(net, "layerwise", 1.0, 1.0, n_outputs=2)
    assert hypers.log_prior.shape == (4,) and hypers.log_sigma.shape == (2,)
    tuned = hypers.clone()

    def evidence() -> torch.Tensor:  # pushes log sigma down and the log prior up without bound
        return -tuned.log_sigma.sum() + tuned.log_prior.sum()

    trace = maximise_evidence(evidence, tuned, 200, lr=0.5, floor=0.3, prior_bounds=(-2.0, 2.0))
    assert len(trace) == 200 and trace[-1] > trace[0]
    assert torch.allclose(tuned.sigma, torch.full((2,), 0.3, dtype=F64))
    assert torch.allclose(tuned.log_prior, torch.full((4,), 2.0, dtype=F64))
    assert torch.equal(hypers.log_prior, torch.zeros(4, dtype=F64)) and torch.equal(hypers.sigma, torch.ones(2, dtype=F64))
    assert all(p.grad is None for p in tuned.parameters())
