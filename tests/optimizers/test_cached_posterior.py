"""CachedPosteriorGP: the same posterior as GPyTorch's, by closed forms, for the models it supports."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.acquisition.analytic import LogExpectedImprovement
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from gpytorch.kernels import MaternKernel, RBFKernel, ScaleKernel

from service.optimizers.cached_posterior import cached_posterior_model

F64 = torch.float64


def _model(train_Yvar: bool = False, covar_module=None) -> SingleTaskGP:
    generator = torch.Generator().manual_seed(0)
    X = torch.rand(12, 3, generator=generator, dtype=F64)
    Y = 5.0 * torch.sin(3 * X).sum(-1, keepdim=True) + 2.0
    model = SingleTaskGP(
        X, Y, train_Yvar=torch.full_like(Y, 0.05) if train_Yvar else None,
        covar_module=covar_module, outcome_transform=Standardize(m=1),
    )
    with torch.no_grad():  # fixed, non-default hyperparameters instead of a fit
        kernel = model.covar_module.base_kernel if isinstance(model.covar_module, ScaleKernel) else model.covar_module
        kernel.lengthscale = torch.tensor([[0.3, 0.5, 0.8]], dtype=F64)
        if isinstance(model.covar_module, ScaleKernel):
            model.covar_module.outputscale = torch.tensor(1.7, dtype=F64)
        model.mean_module.constant.fill_(0.25)
        if not train_Yvar:
            model.likelihood.noise = torch.tensor([0.01], dtype=F64)
    return model.eval()


def _base_kernel(kernel: str):
    return RBFKernel(ard_num_dims=3) if kernel == "rbf" else MaternKernel(nu=2.5, ard_num_dims=3)


@pytest.mark.parametrize("train_Yvar", [False, True])
@pytest.mark.parametrize(("scaled", "kernel"), [(False, "rbf"), (True, "rbf"), (False, "matern52"), (True, "matern52")])
def test_mean_and_joint_covariance_equal_gpytorch(train_Yvar: bool, scaled: bool, kernel: str) -> None:
    covar = ScaleKernel(_base_kernel(kernel)) if scaled else _base_kernel(kernel) if kernel != "rbf" else None
    model = _model(train_Yvar, covar)
    view = cached_posterior_model(model)
    assert view is not None and view.kernel_type == kernel
    X = torch.rand(4, 5, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    X[0, 1] = model.train_inputs[0][3]  # a training point itself: r = 0 against it
    expected = model.posterior(X)
    got = view.posterior(X)
    assert got.mean.shape == expected.mean.shape == (4, 5, 1)
    torch.testing.assert_close(got.mean, expected.mean, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(
        got.distribution.covariance_matrix, expected.distribution.covariance_matrix, rtol=1e-6, atol=1e-7
    )


def test_one_point_closed_form_by_hand() -> None:
    """n = 1, D = 1: mean = m + s * k (y~ - c) / (1 + noise), var = s^2 (1 - k^2 / (1 + noise))."""
    X, Y = torch.tensor([[0.2]], dtype=F64), torch.tensor([[3.0]], dtype=F64)
    model = SingleTaskGP(X, Y, outcome_transform=None)  # y~ = y, m = 0, s = 1
    with torch.no_grad():
        model.covar_module.lengthscale = torch.tensor([[0.5]], dtype=F64)
        model.mean_module.constant.fill_(1.0)
        model.likelihood.noise = torch.tensor([0.1], dtype=F64)
    model.eval()
    view = cached_posterior_model(model)
    x = 0.6
    k = math.exp(-0.5 * ((x - 0.2) / 0.5) ** 2)
    posterior = view.posterior(torch.tensor([[x]], dtype=F64))
    assert posterior.mean.item() == pytest.approx(1.0 + k * (3.0 - 1.0) / 1.1, rel=1e-12)
    assert posterior.variance.item() == pytest.approx(1.0 - k * k / 1.1, rel=1e-6)


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
def test_gradients_of_log_ei_match(kernel: str) -> None:
    model = _model(covar_module=ScaleKernel(_base_kernel(kernel)))
    view = cached_posterior_model(model)
    best = model.train_targets.max()  # any incumbent will do for the comparison
    X1 = torch.rand(6, 1, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    X1[0, 0] = model.train_inputs[0][5]  # at a training point the Matern's r = 0 must not give NaN
    X1.requires_grad_(True)
    X2 = X1.detach().clone().requires_grad_(True)
    LogExpectedImprovement(model, best_f=best)(X1).sum().backward()
    LogExpectedImprovement(view, best_f=best)(X2).sum().backward()
    assert bool(torch.isfinite(X2.grad).all())
    torch.testing.assert_close(X2.grad, X1.grad, rtol=1e-6, atol=1e-8)


def test_unsupported_models_are_left_alone() -> None:
    assert cached_posterior_model(_model(covar_module=MaternKernel(nu=1.5, ard_num_dims=3))) is None
    X = torch.cat([torch.rand(8, 2, dtype=F64), torch.randint(0, 3, (8, 1)).to(F64)], dim=1)
    mixed = MixedSingleTaskGP(X, X.sum(-1, keepdim=True), cat_dims=[2]).eval()
    assert cached_posterior_model(mixed) is None
