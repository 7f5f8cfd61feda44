"""Outcome constraints are judged in units of their metric's spread, not in its absolute units.

BoTorch's default feasibility smoothing has a fixed temperature (1e-3 in the metric's units); the
acquisition of ``constrained_acquisition`` scales it by each metric's observed standard deviation,
so a metric recorded in other units (times 1e4, say) leaves every acquisition value unchanged (float64).
Under BoTorch's default (a fatmoid of temperature 1e-3) the same two studies give log-acquisition
values apart by up to 18.4 (checked when this test was written)."""

from __future__ import annotations

import torch
import warnings

from botorch.models import ModelList, SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from gpytorch.kernels import RBFKernel, ScaleKernel

from service.optimizers.constrained_acquisition import CONSTRAINT_TEMPERATURE, build_acquisition, constraint_temperatures
from service.optimizers.outcomes import OutcomeBound, Outcomes

F64 = torch.float64


def _gp(X: torch.Tensor, y: torch.Tensor, lengthscale: float = 0.3) -> SingleTaskGP:
    """A GP with fixed hyperparameters on standardised ``y`` (unit prior variance, noise at GPyTorch's floor)."""
    model = SingleTaskGP(X, y.unsqueeze(-1), train_Yvar=1e-8 * y.var() * torch.ones_like(y).unsqueeze(-1),
                         covar_module=ScaleKernel(RBFKernel(ard_num_dims=X.shape[-1])),
                         outcome_transform=Standardize(m=1))
    model.covar_module.base_kernel.lengthscale = lengthscale
    model.covar_module.outputscale = 1.0
    model.eval()
    return model


def _problem(metric_units: float) -> tuple[torch.Tensor, Outcomes, ModelList]:
    generator = torch.Generator().manual_seed(0)
    X = torch.rand(12, 2, generator=generator, dtype=F64)
    objective = -(X - 0.3).pow(2).sum(-1)
    metric = metric_units * (X[:, 0] + X[:, 1] - 0.8)  # feasible where x0 + x1 <= 0.8
    outcomes = Outcomes(Y=torch.stack([objective, metric], dim=-1), names=("f", "c"), n_objectives=1,
                        constraints=(OutcomeBound(column=1, op="<=", bound=0.0),))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GPyTorch rounds the tiny noise up to its floor and says so
        return X, outcomes, ModelList(_gp(X, objective), _gp(X, metric))


def test_temperature_is_the_metric_sd_times_the_constant() -> None:
    _, outcomes, _ = _problem(1.0)
    expected = CONSTRAINT_TEMPERATURE * outcomes.Y[:, 1].std()
    torch.testing.assert_close(constraint_temperatures(outcomes), expected.reshape(1))
    constant = Outcomes(Y=torch.ones(3, 2, dtype=F64), names=("f", "c"), n_objectives=1,
                        constraints=(OutcomeBound(column=1, op=">=", bound=0.0),))
    assert constraint_temperatures(constant).tolist() == [CONSTRAINT_TEMPERATURE]  # sd 0: unit scale


def test_acquisition_does_not_depend_on_the_units_of_a_constrained_metric() -> None:
    candidates = torch.rand(32, 1, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    values = []
    for units in (1.0, 1e4):
        X, outcomes, model = _problem(units)
        acquisition = build_acquisition(model, X, X[:0], outcomes, mc_samples=64, seed=0, max_baseline=64)
        with torch.no_grad():
            values.append(acquisition(candidates))
    assert bool(torch.isfinite(values[0]).all())
    torch.testing.assert_close(values[0], values[1], rtol=1e-6, atol=1e-6)
