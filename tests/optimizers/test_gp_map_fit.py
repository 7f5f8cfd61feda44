"""The hand-written MAP objective of the continuous GP equals GPyTorch's, its gradient equals
autograd's, and its optimum equals ``fit_gpytorch_mll``'s (float64, small cases)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from botorch.fit import fit_gpytorch_mll
from gpytorch.mlls import ExactMarginalLogLikelihood

from service.optimizers.gp_map_fit import GPHyperparameters, MapPriors, fit_map, negative_log_posterior
from service.optimizers.gp_model import MIN_NOISE, NOISE_PRIOR, OUTPUTSCALE_PRIOR, continuous_gp

F64 = torch.float64
PRIORS = MapPriors(outputscale=OUTPUTSCALE_PRIOR, noise=NOISE_PRIOR, min_noise=MIN_NOISE)


def _data(n: int = 12, d: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=F64)
    y = torch.sin(5 * X).sum(-1) + 0.05 * torch.randn(n, generator=generator, dtype=F64)
    return X, y


def _gpytorch_model(X: torch.Tensor, y: torch.Tensor, u: torch.Tensor):
    """``continuous_gp`` with hyperparameters set from ``u = (log l, log s, log v, c)``."""
    model = continuous_gp(X, y.unsqueeze(-1), None)
    D = X.shape[-1]
    model.covar_module.base_kernel.lengthscale = u[:D].exp()
    model.covar_module.outputscale = u[D].exp()
    model.likelihood.noise = u[D + 1].exp().reshape(1)
    model.mean_module.constant = u[D + 2]
    return model


def _gpytorch_objective(X: torch.Tensor, y: torch.Tensor, u: torch.Tensor) -> float:
    """GPyTorch's negative MAP objective (mll + priors, divided by n) at ``u``."""
    model = _gpytorch_model(X, y, u)
    model.train()
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    output = model(*model.train_inputs)
    return -float(mll(output, model.train_targets).detach())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_objective_equals_gpytorch_and_gradient_equals_autograd(seed: int) -> None:
    X, y = _data(seed=seed)
    generator = torch.Generator().manual_seed(100 + seed)
    u = torch.cat([0.5 * torch.randn(3, generator=generator, dtype=F64) - 1.0,
                   torch.tensor([0.3, math.log(1e-3), 0.2], dtype=F64)])
    standardised = (y - y.mean()) / y.std()
    value, grad = negative_log_posterior(u.numpy(), X.numpy(), standardised.numpy(), PRIORS)
    assert float(value) == pytest.approx(_gpytorch_objective(X, y, u), rel=1e-7)  # GPyTorch may add jitter

    u_auto = u.clone().requires_grad_(True)
    D = X.shape[-1]
    lengthscale, s, v, c = u_auto[:D].exp(), u_auto[D].exp(), u_auto[D + 1].exp(), u_auto[D + 2]
    Z = X / lengthscale
    K = s * torch.exp(-0.5 * torch.cdist(Z, Z).pow(2)) + v * torch.eye(X.shape[0], dtype=F64)
    mvn = torch.distributions.MultivariateNormal(c * torch.ones_like(standardised), covariance_matrix=K)
    mu0, s0 = math.sqrt(2) + 0.5 * math.log(D), math.sqrt(3)
    log_prior = torch.distributions.LogNormal(mu0, s0).log_prob(lengthscale).sum()
    log_prior = log_prior + torch.distributions.Gamma(*OUTPUTSCALE_PRIOR).log_prob(s)
    log_prior = log_prior + torch.distributions.Gamma(*NOISE_PRIOR).log_prob(v)
    (-(mvn.log_prob(standardised) + log_prior) / X.shape[0]).backward()
    torch.testing.assert_close(torch.from_numpy(grad), u_auto.grad, rtol=1e-6, atol=1e-8)


def test_fit_reaches_the_same_map_as_fit_gpytorch_mll() -> None:
    X, y = _data(n=20, d=2, seed=3)
    reference = continuous_gp(X, y.unsqueeze(-1), None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(reference.likelihood, reference),
                         optimizer_kwargs={"options": {"maxiter": 500}})
    start = GPHyperparameters(lengthscale=torch.full((2,), 0.5, dtype=F64), outputscale=torch.tensor(0.7, dtype=F64),
                              noise=torch.tensor(1e-4, dtype=F64), constant=torch.tensor(0.0, dtype=F64))
    fitted = fit_map(X, reference.train_targets, start, PRIORS, maxiter=500)
    D = 2
    u_ref = torch.cat([reference.covar_module.base_kernel.lengthscale.detach().reshape(-1).log(),
                       reference.covar_module.outputscale.detach().reshape(1).log(),
                       reference.likelihood.noise.detach().reshape(1).log(),
                       reference.mean_module.constant.detach().reshape(1)])
    u_ours = torch.cat([fitted.lengthscale.log(), fitted.outputscale.reshape(1).log(),
                        fitted.noise.reshape(1).log(), fitted.constant.reshape(1)])
    targets = reference.train_targets.detach().numpy()
    value_ref, _ = negative_log_posterior(u_ref.numpy(), X.numpy(), targets, PRIORS)
    value_ours, grad_ours = negative_log_posterior(u_ours.numpy(), X.numpy(), targets, PRIORS)
    assert float(value_ours) <= float(value_ref) + 1e-6  # at least as good an optimum
    torch.testing.assert_close(fitted.lengthscale, u_ref[:D].exp(), rtol=2e-2, atol=1e-3)
    torch.testing.assert_close(fitted.outputscale, u_ref[D].exp(), rtol=2e-2, atol=1e-3)
    assert float(abs(grad_ours[:D + 1]).max()) < 1e-3  # a stationary point (free coordinates)


def test_fit_survives_an_output_scale_driven_towards_zero() -> None:
    # half the outcomes exactly equal: the fit once pushed softplus(raw) to 0 and raised a math domain error
    generator = torch.Generator().manual_seed(0)
    X = torch.rand(40, 2, generator=generator, dtype=F64)
    y = torch.where(X[:, 0] < 0.5, torch.zeros(40, dtype=F64), torch.sin(30 * (X[:, 0] - 0.5)))
    model = continuous_gp(X, y.unsqueeze(-1), None)
    start = GPHyperparameters(lengthscale=torch.full((2,), 0.5, dtype=F64), outputscale=torch.tensor(1e-310, dtype=F64),
                              noise=torch.tensor(1e-4, dtype=F64), constant=torch.tensor(0.0, dtype=F64))
    fitted = fit_map(X, model.train_targets, start, PRIORS, maxiter=75)
    assert bool(torch.isfinite(fitted.outputscale)) and float(fitted.outputscale) > 0
    assert bool(torch.isfinite(fitted.lengthscale).all())
