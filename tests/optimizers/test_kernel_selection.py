"""Kernel choice by marginal likelihood: the evidence is the Gaussian log density of the training
targets (float64, against torch's MultivariateNormal), and the chosen fit is the kernel of higher evidence."""

from __future__ import annotations

import torch
from gpytorch.kernels import MaternKernel, RBFKernel

from service.optimizers.gp_model import GPData, fit_gp
from service.optimizers.kernel_selection import SELECTION_MAX_N, fit_by_evidence, log_marginal_likelihood
from service.space import CategoricalParam, FloatParam, SearchSpace

F64 = torch.float64


def _data(rough: bool, n: int = 40, seed: int = 0) -> tuple[SearchSpace, GPData]:
    space = SearchSpace([FloatParam(name=f"x{i}", low=0, high=1) for i in range(2)])
    X = torch.rand(n, 2, generator=torch.Generator().manual_seed(seed), dtype=F64)
    y = (X[:, 0] > 0.5).to(F64) + X[:, 1] if rough else torch.sin(10 * X).sum(-1)  # a step: the Matern's data
    return space, GPData(X, y, None)


def test_evidence_is_the_gaussian_log_density_of_the_standardised_targets() -> None:
    space, data = _data(rough=False)
    model, _, _ = fit_gp(space, data, kernel="matern52")
    X, y = model.train_inputs[0], model.train_targets
    kernel = model.covar_module
    K = kernel.outputscale * kernel.base_kernel(X, X).to_dense() + model.likelihood.noise * torch.eye(X.shape[0], dtype=F64)
    mean = model.mean_module.constant.expand_as(y)
    expected = torch.distributions.MultivariateNormal(mean, covariance_matrix=K.detach()).log_prob(y)
    assert abs(log_marginal_likelihood(model) - float(expected)) < 1e-6


def test_the_kernel_of_higher_evidence_is_chosen() -> None:
    chosen = []
    for rough in (False, True):
        space, data = _data(rough)
        evidence = {k: log_marginal_likelihood(fit_gp(space, data, kernel=k)[0]) for k in ("rbf", "matern52")}
        model, state, info = fit_by_evidence(space, data, None, safe=False)
        expected = max(evidence, key=evidence.get)
        assert info["kernel"] == expected and state.meta["kernel"] == expected
        assert info["log_evidence"] == evidence
        base = model.covar_module.base_kernel
        assert isinstance(base, MaternKernel if expected == "matern52" else RBFKernel)
        chosen.append(expected)
    assert chosen == ["rbf", "matern52"]  # both branches taken (a smooth sine, a step)


def test_a_mixed_space_keeps_the_fallback_kernel() -> None:
    space = SearchSpace([FloatParam(name="x", low=0, high=1), CategoricalParam(name="c", choices=["a", "b"])])
    X = torch.cat([torch.rand(12, 1, dtype=F64), torch.randint(0, 2, (12, 1)).to(F64)], dim=1)
    _, _, info = fit_by_evidence(space, GPData(X, X[:, 0] + X[:, 1], None), None, safe=False)
    assert info["kernel"] == "rbf" and "log_evidence" not in info


def test_above_the_selection_size_the_last_choice_stands_and_only_it_is_fitted() -> None:
    space, data = _data(rough=True, n=60)
    _, state, info = fit_by_evidence(space, data, None, safe=False)
    assert state.meta["kernel"] == info["kernel"] == "matern52"
    big_space, big = _data(rough=False, n=SELECTION_MAX_N + 1)  # a sine: the RBF's data
    _, kept_state, kept = fit_by_evidence(big_space, big, state, safe=False)
    assert kept["kernel"] == "matern52" and "log_evidence" not in kept and kept_state.meta["kernel"] == "matern52"
    _, _, fresh = fit_by_evidence(big_space, big, None, safe=False)  # no earlier choice: both are compared
    assert fresh["kernel"] == "rbf" and set(fresh["log_evidence"]) == {"rbf", "matern52"}


def test_both_kernels_are_warm_started_from_the_packed_state() -> None:
    space, data = _data(rough=True, n=40)
    _, state, first = fit_by_evidence(space, data, None, safe=False)
    assert not first["warm_started"]
    more = GPData(torch.cat([data.X, torch.full((1, 2), 0.3, dtype=F64)]), torch.cat([data.y, torch.ones(1, dtype=F64)]), None)
    _, _, second = fit_by_evidence(space, more, state, safe=False)
    assert second["warm_started"] and set(second["log_evidence"]) == {"rbf", "matern52"}
    fresh = {k: fit_gp(space, more, kernel=k)[0] for k in ("rbf", "matern52")}
    # the warm fits reach the optimum of a cold one (to the optimiser's tolerance)
    for kernel, value in second["log_evidence"].items():
        assert abs(value - log_marginal_likelihood(fresh[kernel])) < 0.05 * max(1.0, abs(value))
