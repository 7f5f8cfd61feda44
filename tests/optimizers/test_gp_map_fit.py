"""The hand-written MAP objective of the continuous GP (RBF and Matern-5/2 kernels) equals GPyTorch's,
its gradient equals autograd's, and its optimum equals ``fit_gpytorch_mll``'s (float64, small cases)."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from botorch.fit import fit_gpytorch_mll
from gpytorch.mlls import ExactMarginalLogLikelihood

from service.optimizers.gp_map_fit import GPHyperparameters, MapPriors, fit_map, map_objective, negative_log_posterior
from service.optimizers.gp_model import (
    MIN_NOISE,
    NOISE_PRIOR,
    OUTPUTSCALE_PRIOR,
    continuous_gp,
    map_priors,
    matern_kernel,
)

F64 = torch.float64
PRIORS = MapPriors(outputscale=OUTPUTSCALE_PRIOR, noise=NOISE_PRIOR, min_noise=MIN_NOISE)
KERNELS = ["rbf", "matern52"]


def _matern_prior(d: int) -> tuple[float, float]:
    """The Matern's Gamma lengthscale prior written out: concentration 3, mean 0.5 * max(1, d / 6)."""
    return 3.0, 3.0 / (0.5 * max(1.0, d / 6))


def _priors(kernel: str, d: int = 3) -> MapPriors:
    if kernel == "rbf":
        return PRIORS
    concentration, rate = map_priors(matern_kernel(d)).lengthscale  # as GPyTorch stores it (float32)
    assert (concentration, rate) == pytest.approx(_matern_prior(d), rel=1e-6)
    return MapPriors(OUTPUTSCALE_PRIOR, NOISE_PRIOR, MIN_NOISE, (concentration, rate), "matern52")


@pytest.mark.parametrize("d", [3, 6, 7, 10, 20])
def test_map_priors_follow_the_kernel_of_continuous_gp(d: int) -> None:
    X, y = _data(d=d)
    for kernel in KERNELS:
        model = continuous_gp(X, y.unsqueeze(-1), None, kernel)
        assert map_priors(model.covar_module.base_kernel) == _priors(kernel, d)


@pytest.mark.parametrize("d", [2, 6, 10, 20])
def test_matern_prior_mean_is_half_up_to_six_columns_then_grows_with_the_dimension(d: int) -> None:
    prior = matern_kernel(d).lengthscale_prior
    assert float(prior.mean) == pytest.approx(0.5 * max(1.0, d / 6), rel=1e-6)
    assert float(prior.concentration) == 3.0


def _data(n: int = 12, d: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=F64)
    y = torch.sin(5 * X).sum(-1) + 0.05 * torch.randn(n, generator=generator, dtype=F64)
    return X, y


def _gpytorch_model(X: torch.Tensor, y: torch.Tensor, u: torch.Tensor, kernel: str):
    """``continuous_gp`` with hyperparameters set from ``u = (log l, log s, log v, c)``."""
    model = continuous_gp(X, y.unsqueeze(-1), None, kernel)
    D = X.shape[-1]
    model.covar_module.base_kernel.lengthscale = u[:D].exp()
    model.covar_module.outputscale = u[D].exp()
    model.likelihood.noise = u[D + 1].exp().reshape(1)
    model.mean_module.constant = u[D + 2]
    return model


def _gpytorch_objective(X: torch.Tensor, y: torch.Tensor, u: torch.Tensor, kernel: str) -> float:
    """GPyTorch's negative MAP objective (mll + priors, divided by n) at ``u``."""
    model = _gpytorch_model(X, y, u, kernel)
    model.train()
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    output = model(*model.train_inputs)
    return -float(mll(output, model.train_targets).detach())


def _kernel_matrix(Z: torch.Tensor, kernel: str) -> torch.Tensor:
    """The unit-variance kernel on lengthscale-divided inputs ``Z``, written from its formula (autograd-safe
    at r = 0: the Matern through r^2 where r is 0 only on the diagonal)."""
    sq = (Z.unsqueeze(-2) - Z.unsqueeze(-3)).pow(2).sum(-1)
    if kernel == "rbf":
        return torch.exp(-0.5 * sq)
    r = torch.sqrt(sq + torch.eye(Z.shape[0], dtype=Z.dtype)) * (1 - torch.eye(Z.shape[0], dtype=Z.dtype))
    return (1 + math.sqrt(5) * r + 5 * sq / 3) * torch.exp(-math.sqrt(5) * r)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(("seed", "d"), [(0, 3), (1, 3), (2, 3), (3, 10)])
def test_objective_equals_gpytorch_and_gradient_equals_autograd(seed: int, d: int, kernel: str) -> None:
    X, y = _data(n=12 if d <= 6 else 24, d=d, seed=seed)
    generator = torch.Generator().manual_seed(100 + seed)
    u = torch.cat([0.5 * torch.randn(d, generator=generator, dtype=F64) - 1.0,
                   torch.tensor([0.3, math.log(1e-3), 0.2], dtype=F64)])
    standardised = (y - y.mean()) / y.std()
    value, grad = negative_log_posterior(u.numpy(), X.numpy(), standardised.numpy(), _priors(kernel, d))
    assert float(value) == pytest.approx(_gpytorch_objective(X, y, u, kernel), rel=1e-7)  # GPyTorch may add jitter

    u_auto = u.clone().requires_grad_(True)
    D = X.shape[-1]
    lengthscale, s, v, c = u_auto[:D].exp(), u_auto[D].exp(), u_auto[D + 1].exp(), u_auto[D + 2]
    Z = X / lengthscale
    K = s * _kernel_matrix(Z, kernel) + v * torch.eye(X.shape[0], dtype=F64)
    mvn = torch.distributions.MultivariateNormal(c * torch.ones_like(standardised), covariance_matrix=K)
    mu0, s0 = math.sqrt(2) + 0.5 * math.log(D), math.sqrt(3)
    lengthscale_prior = torch.distributions.LogNormal(mu0, s0) if kernel == "rbf" else \
        torch.distributions.Gamma(*_matern_prior(D))
    log_prior = lengthscale_prior.log_prob(lengthscale).sum()
    log_prior = log_prior + torch.distributions.Gamma(*OUTPUTSCALE_PRIOR).log_prob(s)
    log_prior = log_prior + torch.distributions.Gamma(*NOISE_PRIOR).log_prob(v)
    (-(mvn.log_prob(standardised) + log_prior) / X.shape[0]).backward()
    torch.testing.assert_close(torch.from_numpy(grad), u_auto.grad, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kernel", KERNELS)
def test_fit_reaches_the_same_map_as_fit_gpytorch_mll(kernel: str) -> None:
    X, y = _data(n=20, d=2, seed=3)
    priors = _priors(kernel)
    reference = continuous_gp(X, y.unsqueeze(-1), None, kernel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(reference.likelihood, reference),
                         optimizer_kwargs={"options": {"maxiter": 500}})
    start = GPHyperparameters(lengthscale=torch.full((2,), 0.5, dtype=F64), outputscale=torch.tensor(0.7, dtype=F64),
                              noise=torch.tensor(1e-4, dtype=F64), constant=torch.tensor(0.0, dtype=F64))
    fitted = fit_map(X, reference.train_targets, start, priors, maxiter=500)
    D = 2
    u_ref = torch.cat([reference.covar_module.base_kernel.lengthscale.detach().reshape(-1).log(),
                       reference.covar_module.outputscale.detach().reshape(1).log(),
                       reference.likelihood.noise.detach().reshape(1).log(),
                       reference.mean_module.constant.detach().reshape(1)])
    u_ours = torch.cat([fitted.lengthscale.log(), fitted.outputscale.reshape(1).log(),
                        fitted.noise.reshape(1).log(), fitted.constant.reshape(1)])
    targets = reference.train_targets.detach().numpy()
    value_ref, _ = negative_log_posterior(u_ref.numpy(), X.numpy(), targets, priors)
    value_ours, grad_ours = negative_log_posterior(u_ours.numpy(), X.numpy(), targets, priors)
    assert float(value_ours) <= float(value_ref) + 1e-6  # at least as good an optimum
    torch.testing.assert_close(fitted.lengthscale, u_ref[:D].exp(), rtol=2e-2, atol=1e-3)
    torch.testing.assert_close(fitted.outputscale, u_ref[D].exp(), rtol=2e-2, atol=1e-3)
    assert float(abs(grad_ours[:D + 1]).max()) < 1e-3  # a stationary point (free coordinates)


@pytest.mark.parametrize("kernel", KERNELS)
def test_fit_survives_an_output_scale_driven_towards_zero(kernel: str) -> None:
    # half the outcomes exactly equal: the fit once pushed softplus(raw) to 0 and raised a math domain error
    generator = torch.Generator().manual_seed(0)
    X = torch.rand(40, 2, generator=generator, dtype=F64)
    y = torch.where(X[:, 0] < 0.5, torch.zeros(40, dtype=F64), torch.sin(30 * (X[:, 0] - 0.5)))
    model = continuous_gp(X, y.unsqueeze(-1), None, kernel)
    start = GPHyperparameters(lengthscale=torch.full((2,), 0.5, dtype=F64), outputscale=torch.tensor(1e-310, dtype=F64),
                              noise=torch.tensor(1e-4, dtype=F64), constant=torch.tensor(0.0, dtype=F64))
    fitted = fit_map(X, model.train_targets, start, _priors(kernel), maxiter=75)
    assert bool(torch.isfinite(fitted.outputscale)) and float(fitted.outputscale) > 0
    assert bool(torch.isfinite(fitted.lengthscale).all())


def test_a_step_to_an_underflowing_lengthscale_is_rejected_not_evaluated() -> None:
    # raw lengthscale -800: softplus(raw) underflows to 0 and (X / l)^2 to NaN, on which scipy's L-BFGS-B
    # ends a whole fit early; map_objective answers +inf with a zero gradient, so the line search backtracks
    import numpy as np

    generator = torch.Generator().manual_seed(0)
    X = torch.rand(12, 2, generator=generator, dtype=F64).numpy()
    y = np.sin(6 * X[:, 0]) + X[:, 1]
    y = (y - y.mean()) / y.std()
    priors = _priors("matern52", d=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning either
        value, grad = map_objective(np.array([-800.0, 0.0, 0.5, 1e-3, 0.0]), X, y, priors)
        assert value == math.inf and not grad.any()
        # an ordinary point is the log posterior itself, in the softplus coordinates
        p = np.array([-5.0, 0.3, 0.5, 1e-3, 0.1])
        value, _ = map_objective(p, X, y, priors)
    log_l = np.log(np.logaddexp(0.0, p[:2]))
    u = np.concatenate([log_l, [math.log(math.log1p(math.exp(p[2]))), math.log(p[3]), p[4]]])
    assert value == pytest.approx(negative_log_posterior(u, X, y, priors)[0], rel=1e-12)
