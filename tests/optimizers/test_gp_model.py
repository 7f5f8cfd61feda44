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


def test_a_retried_fit_depends_on_the_data_only_not_on_the_global_generator(monkeypatch) -> None:
    """fit_gpytorch_mll retries a failed attempt from hyperparameters drawn from their priors; the
    draw must not depend on what the process drew before (nor consume its generator)."""
    import warnings as warnings_module

    import botorch.optim.core as botorch_core
    from botorch.exceptions.warnings import OptimizationWarning

    from service.space import CategoricalParam

    real = botorch_core.minimize_with_timeout
    calls = {"n": 0}

    def first_attempt_fails(*args, **kwargs):  # every fit's first attempt ends in an abnormal warning
        calls["n"] += 1
        result = real(*args, **kwargs)
        if calls["n"] % 2 == 1:
            warnings_module.warn("ABNORMAL_TERMINATION_IN_LNSRCH (test)", OptimizationWarning)
        return result

    monkeypatch.setattr(botorch_core, "minimize_with_timeout", first_attempt_fails)
    space = SearchSpace([FloatParam(name="x", low=0, high=1), CategoricalParam(name="c", choices=["a", "b", "c"])])
    generator = torch.Generator().manual_seed(3)
    X = torch.cat([torch.rand(15, 1, dtype=torch.float64, generator=generator),
                   torch.randint(0, 3, (15, 1), generator=generator).double()], dim=-1)
    y = torch.sin(6 * X[:, 0]) + 0.3 * X[:, 1]
    fits = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        before = torch.get_rng_state()
        model, _, _ = fit_gp(space, GPData(X=space.encode_many(
            [{"x": float(a), "c": ["a", "b", "c"][int(b)]} for a, b in X]), y=y, y_var=None))
        assert torch.equal(torch.get_rng_state(), before)  # the process's generator is untouched
        fits.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    assert calls["n"] >= 4  # both fits retried
    assert fits[0].keys() == fits[1].keys()
    for key in fits[0]:
        assert torch.equal(fits[0][key], fits[1][key]), key
