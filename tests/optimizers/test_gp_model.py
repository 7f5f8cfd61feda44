"""The GP's inferred noise: it can fall below BoTorch's default floor on a deterministic objective
and rises with real noise; the output scale is a fitted hyperparameter."""

from __future__ import annotations

import torch

from service.optimizers.gp_model import MIN_NOISE, GPData, fit_gp
from service.space import FloatParam, SearchSpace

F64 = torch.float64
BOTORCH_DEFAULT_NOISE_FLOOR = 1e-4  # MIN_INFERRED_NOISE_LEVEL of BoTorch's default likelihood


def _fit(noise_sd: float):
    space = SearchSpace([FloatParam(name=f"x{i}", low=0, high=1) for i in range(3)])
    generator = torch.Generator().manual_seed(0)
    X = torch.rand(30, 3, generator=generator, dtype=F64)
    y = torch.sin(4 * X).sum(-1) + noise_sd * torch.randn(30, generator=generator, dtype=F64)
    model, _, _ = fit_gp(space, GPData(X, y, None))
    return model


def test_deterministic_objective_gets_a_noise_below_botorchs_floor() -> None:
    model = _fit(noise_sd=0.0)
    noise = float(model.likelihood.noise.detach())
    assert MIN_NOISE <= noise < BOTORCH_DEFAULT_NOISE_FLOOR
    assert float(model.covar_module.outputscale.detach()) != 1.0  # learned, not BoTorch's fixed 1


def test_noisy_objective_gets_a_noise_near_the_truth() -> None:
    noise = float(_fit(noise_sd=0.3).likelihood.noise.detach())  # standardised units: y has sd ~1.2
    assert 0.01 < noise < 0.3
