"""The GP's floor of the inferred noise variance (``GPOptions.min_noise``): 1e-6 for one modelled outcome,
1e-8 for each outcome of a study with several, or what the study sets; it reaches both the model's
constraint and the closed-form MAP fit."""

from __future__ import annotations

import inspect

import pytest
import torch
from pydantic import ValidationError

from service.optimizers import gp_model
from service.optimizers.auto import AutoSurrogate
from service.optimizers.auto_options import AutoOptions
from service.optimizers.gp import GPSurrogate
from service.optimizers.gp_model import GPData, fit_gp
from service.optimizers.gp_options import DEFAULT_MIN_NOISE, DEFAULT_MULTI_OUTCOME_MIN_NOISE, GPOptions
from service.space import FloatParam, SearchSpace

F64 = torch.float64
SPACE = SearchSpace([FloatParam(name="a", low=0.0, high=1.0), FloatParam(name="b", low=0.0, high=1.0)])


def _deterministic_data(n: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """A noiseless linear function: its MAP noise sits at the 1e-6 floor, and below it with a lower one
    (checked when this test was written: 1e-6 and 2.0e-7)."""
    X = torch.rand(n, 2, dtype=F64, generator=torch.Generator().manual_seed(7))
    return X, X[:, 0] + 2 * X[:, 1]


def test_the_model_functions_default_to_the_one_outcome_floor() -> None:
    assert DEFAULT_MIN_NOISE == gp_model.MIN_NOISE
    assert inspect.signature(fit_gp).parameters["min_noise"].default == GPOptions().resolved_min_noise(False)
    assert DEFAULT_MULTI_OUTCOME_MIN_NOISE < DEFAULT_MIN_NOISE


def test_auto_gives_its_gp_candidate_the_floor_of_several_outcomes(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float | None] = []
    real_fit = GPSurrogate.fit

    def recording_fit(self, space, data, *, options, warm, safe, seed):  # noqa: ANN001, ANN202
        seen.append(options.min_noise)
        return real_fit(self, space, data, options=options, warm=warm, safe=safe, seed=seed)

    monkeypatch.setattr(GPSurrogate, "fit", recording_fit)
    X, y = _deterministic_data(8)
    options = AutoOptions(lla={"epochs": 10, "warm_epochs": 5, "width": 8})
    auto = AutoSurrogate()
    auto.fit_joint(SPACE, X, torch.stack([y, -y], dim=-1), options=options, warm=None, safe=False, seed=0)
    assert seen == [1e-8, 1e-8]
    seen.clear()
    auto.fit(SPACE, GPData(X, y, None), options=options, warm=None, safe=False, seed=0)
    assert seen == [1e-6]


def test_defaults_by_outcome_count_and_an_explicit_value_wins() -> None:
    assert GPOptions().resolved_min_noise(several_outcomes=False) == 1e-6
    assert GPOptions().resolved_min_noise(several_outcomes=True) == 1e-8
    assert GPOptions(min_noise=1e-4).resolved_min_noise(several_outcomes=True) == 1e-4


@pytest.mark.parametrize("value", [0.0, 1e-13, 0.5])
def test_out_of_range_values_are_rejected_naming_the_field(value: float) -> None:
    with pytest.raises(ValidationError, match="min_noise"):
        GPOptions(min_noise=value)


def test_a_noiseless_fit_stays_above_its_floor_and_goes_below_the_higher_one() -> None:
    X, y = _deterministic_data()
    noises = {}
    for floor in (1e-6, 1e-8):
        model, _, _ = fit_gp(SPACE, GPData(X, y, None), kernel="matern52", min_noise=floor)
        noises[floor] = float(model.likelihood.noise.detach())
        assert noises[floor] >= floor * (1 - 1e-6)
    assert noises[1e-6] < 1.01e-6
    assert noises[1e-8] < 0.5e-6


def test_several_outcomes_get_the_lower_floor_and_one_outcome_keeps_its_own() -> None:
    X, y = _deterministic_data()
    surrogate = GPSurrogate()
    joint = surrogate.fit_joint(SPACE, X, torch.stack([y, -y], dim=-1), options=None, warm=None, safe=False, seed=0)
    single = surrogate.fit(SPACE, GPData(X, y, None), options=None, warm=None, safe=False, seed=0)
    assert all(float(part.likelihood.noise.detach()) < 0.5e-6 for part in joint.model.models)
    assert float(single.model.likelihood.noise.detach()) >= 1e-6 * (1 - 1e-6)
    chosen = surrogate.fit_joint(SPACE, X, torch.stack([y, -y], dim=-1), options=GPOptions(min_noise=1e-6),
                                 warm=None, safe=False, seed=0)
    assert all(float(part.likelihood.noise.detach()) >= 1e-6 * (1 - 1e-6) for part in chosen.model.models)


def test_warm_states_do_not_cross_floors() -> None:
    X, y = _deterministic_data()
    data = GPData(X, y, None)
    assert gp_model.model_kind(SPACE, data, False, "matern52", 1e-8) != gp_model.model_kind(SPACE, data, False, "matern52")
