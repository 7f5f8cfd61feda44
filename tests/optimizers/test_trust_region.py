"""The acquisition's trust region: its box per column kind, the acquisition kept inside it, the option."""

from __future__ import annotations

import pytest
import torch
from botorch.models import SingleTaskGP
from pydantic import ValidationError

from service.optimizers.acquisition import AcquisitionOptions, optimization_bounds, propose_batch
from service.optimizers.lla import LLASurrogate
from service.optimizers.lla_options import LLAOptions
from service.optimizers.model_policy import ModelBasedPolicy
from service.optimizers.base import SuggestRequest
from service.optimizers.gp_model import GPData
from service.optimizers.sobol import draw_sobol
from service.optimizers.trust_region import best_point, inside_region, trust_region_bounds
from service.space import CategoricalParam, FloatParam, IntParam, SearchSpace
from service.space.param_base import When

F64 = torch.float64
FAST = AcquisitionOptions(num_restarts=2, raw_samples=64, maxiter=20, mc_samples=64)


def _mixed_space() -> SearchSpace:
    return SearchSpace([
        FloatParam(name="a", low=0, high=1),
        IntParam(name="k", low=1, high=10),
        IntParam(name="p", low=1, high=2),
        CategoricalParam(name="c", choices=["x", "y", "z"]),
    ])


def test_box_per_column_kind_against_the_values_it_should_hold() -> None:
    space = _mixed_space()
    bounds = optimization_bounds(space, F64, None)
    center = space.encode({"a": 0.9, "k": 4, "p": 1, "c": "y"})
    side = 0.3
    region = trust_region_bounds(space, bounds, center, side)
    # float column: the interval, clipped to the box
    assert region[:, 0].tolist() == pytest.approx([0.75, 1.0])
    # integer columns: every value within side / 2 of the centre, plus the centre's neighbours
    for i, value in ((1, 4), (2, 1)):
        encodings = space.integer_encodings(i, F64)
        values = list(range(space.parameters[i].low, space.parameters[i].high + 1))
        expected = [e for e, v in zip(encodings.tolist(), values)
                    if abs(e - float(center[i])) <= side / 2 + 1e-12 or abs(v - value) <= 1]
        assert region[:, i].tolist() == pytest.approx([min(expected), max(expected)])
    assert region[:, 2].tolist() == space.integer_encodings(2, F64).tolist()  # two values: both kept
    # categorical column: every choice
    assert region[:, 3].tolist() == bounds[:, 3].tolist() == [0.0, 2.0]


def test_conditional_spaces_keep_the_whole_box() -> None:
    space = SearchSpace([
        CategoricalParam(name="m", choices=["u", "v"]),
        FloatParam(name="a", low=0, high=1, when=When(parent="m", values=["u"])),
    ])
    bounds = optimization_bounds(space, F64, None)
    center = space.encode({"m": "u", "a": 0.5})
    assert torch.equal(trust_region_bounds(space, bounds, center, 0.2), bounds)


def test_best_point_ignores_non_finite_outcomes() -> None:
    X = torch.tensor([[0.1], [0.2], [0.3]], dtype=F64)
    assert best_point(X, torch.tensor([1.0, float("nan"), 0.5], dtype=F64)).tolist() == [0.1]
    assert best_point(X, torch.full((3,), float("nan"), dtype=F64)) is None


def _gp(space: SearchSpace, n: int, optimum: torch.Tensor) -> tuple[SingleTaskGP, torch.Tensor, torch.Tensor]:
    """A GP of -||x - optimum||^2 on n Sobol points (categoricals scaled to [0, 1] for the distance)."""
    X = draw_sobol(space, seed=0, start=0, count=n)
    scale = space.bounds(F64)[1]
    y = -(((X - optimum) / scale) ** 2).sum(-1, keepdim=True)
    gp = SingleTaskGP(X, y)
    gp.eval()
    return gp, X, y.squeeze(-1)


@pytest.mark.parametrize("count", [1, 2])
def test_continuous_acquisition_stays_in_the_region_away_from_the_optimum(count: int) -> None:
    space = SearchSpace([FloatParam(name="a", low=0, high=1), FloatParam(name="b", low=0, high=1)])
    gp, X, _ = _gp(space, 12, torch.tensor([0.9, 0.9], dtype=F64))
    bounds = optimization_bounds(space, F64, None)
    region = trust_region_bounds(space, bounds, torch.tensor([0.2, 0.2], dtype=F64), 0.2)
    empty = torch.zeros(0, 2, dtype=F64)
    Z = propose_batch(gp, space, X, empty, count, seed=0, options=FAST, region=region)
    assert Z.shape == (count, 2) and bool(inside_region(Z, region).all()), Z
    free = propose_batch(gp, space, X, empty, count, seed=0, options=FAST)
    assert not bool(inside_region(free, region).any())  # without it the optimiser goes to the optimum


def test_mixed_and_enumerated_acquisition_stay_in_the_region() -> None:
    space = _mixed_space()
    gp, X, _ = _gp(space, 16, space.encode({"a": 1.0, "k": 10, "p": 2, "c": "z"}))
    bounds = optimization_bounds(space, F64, None)
    region = trust_region_bounds(space, bounds, space.encode({"a": 0.1, "k": 2, "p": 1, "c": "x"}), 0.2)
    Z = space.canonicalize(propose_batch(gp, space, X, torch.zeros(0, 4, dtype=F64), 1, seed=0,
                                         options=FAST, region=region))
    assert bool(inside_region(Z, region).all()), Z
    grid_space = SearchSpace([IntParam(name="i", low=0, high=30), IntParam(name="j", low=0, high=30)])
    gp, X, _ = _gp(grid_space, 10, grid_space.encode({"i": 30, "j": 30}))
    bounds = optimization_bounds(grid_space, F64, None)
    region = trust_region_bounds(grid_space, bounds, grid_space.encode({"i": 3, "j": 3}), 0.2)
    Z = propose_batch(gp, grid_space, X, torch.zeros(0, 2, dtype=F64), 2, seed=0, options=FAST, region=region)
    assert Z.shape[0] == 2 and bool(inside_region(Z, region).all()), Z


def test_lla_policy_proposes_inside_the_box_around_the_best_observation() -> None:
    space = SearchSpace([FloatParam(name="a", low=0, high=1), FloatParam(name="b", low=0, high=1)])
    X = draw_sobol(space, seed=0, start=0, count=10)
    y = -((X - torch.tensor([0.95, 0.95], dtype=F64)) ** 2).sum(-1)
    y[0] = 1.0  # the best observation, wherever the trend points
    options = LLAOptions(width=16, depth=2, epochs=200, warm_epochs=40, trust_region_side=0.2)
    request = SuggestRequest(space=space, X=X, y=y, y_var=None, pending=torch.zeros(0, 2, dtype=F64), count=2,
                             seed=0, n_suggested=10, n_initial=4, cache_key="tr",
                             surrogate_options=options.model_dump())
    suggestion = ModelBasedPolicy(LLASurrogate(), acquisition_options=FAST).suggest(request)
    assert suggestion.policy == "lla", suggestion.info
    assert bool(((suggestion.X - X[0]).abs() <= 0.1 + 1e-9).all()), (suggestion.X, X[0])


@pytest.mark.parametrize("side", [-0.1, 1.5])
def test_side_out_of_range_is_rejected_naming_the_field(side: float) -> None:
    with pytest.raises(ValidationError, match="trust_region_side"):
        LLAOptions(trust_region_side=side)


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 2 / 3, 1.0])
def test_share_of_suggests_in_the_region_is_exact_and_spread(share: float) -> None:
    options = LLAOptions(trust_region_side=0.5, trust_region_share=share)
    used = [options.uses_trust_region(n, 3) for n in range(120)]
    assert sum(used) == round(120 * share)
    assert all(sum(used[k:k + 12]) == round(12 * share) for k in range(0, 120, 12))  # evenly, not in a block
    assert not any(LLAOptions(trust_region_side=0.0, trust_region_share=share).uses_trust_region(n, 3) for n in range(12))
    assert not any(options.uses_trust_region(n, 9) for n in range(12))  # above trust_region_max_columns (8)
    wide = LLAOptions(trust_region_side=0.5, trust_region_share=share, trust_region_max_columns=9)
    assert [wide.uses_trust_region(n, 9) for n in range(12)] == used[:12]


def test_policy_region_follows_the_share_and_the_best_observation() -> None:
    space = SearchSpace([FloatParam(name="a", low=0, high=1), FloatParam(name="b", low=0, high=1)])
    X = torch.tensor([[0.1, 0.9], [0.5, 0.5], [0.8, 0.2]], dtype=F64)
    y = torch.tensor([0.0, float("nan"), 2.0], dtype=F64)
    policy = ModelBasedPolicy(LLASurrogate(), acquisition_options=FAST)
    options = {"trust_region_side": 0.2, "trust_region_share": 0.5}

    def region(n_suggested: int, fixed: dict[int, float] | None = None) -> torch.Tensor | None:
        request = SuggestRequest(space=space, X=X, y=y, y_var=None, pending=torch.zeros(0, 2, dtype=F64), count=1,
                                 seed=0, n_suggested=n_suggested, n_initial=2, cache_key="share",
                                 surrogate_options=options, fixed=fixed or {})
        return policy.trust_region(request, GPData.from_request(X, y, None))

    assert region(4) is None
    assert torch.allclose(region(5), torch.tensor([[0.7, 0.1], [0.9, 0.3]], dtype=F64))
    # a column held for the call keeps its whole range (its value may lie outside the box)
    assert torch.allclose(region(5, {1: 0.95}), torch.tensor([[0.7, 0.0], [0.9, 1.0]], dtype=F64))


def test_policy_searches_the_whole_space_above_the_column_cap() -> None:
    def region(columns: int, categorical: bool) -> torch.Tensor | None:
        params = [FloatParam(name=f"x{i}", low=0, high=1) for i in range(columns)]
        params += [CategoricalParam(name="c", choices=["a", "b"])] if categorical else []
        space = SearchSpace(params)
        X = draw_sobol(space, seed=0, start=0, count=4)
        y = torch.arange(4, dtype=F64)
        request = SuggestRequest(space=space, X=X, y=y, y_var=None, pending=torch.zeros(0, space.dim, dtype=F64),
                                 count=1, seed=0, n_suggested=4, n_initial=2, cache_key="cap",
                                 surrogate_options={"trust_region_side": 0.3})
        return ModelBasedPolicy(LLASurrogate(), acquisition_options=FAST).trust_region(
            request, GPData.from_request(X, y, None))

    assert region(8, categorical=True) is not None  # categorical columns do not count
    assert region(9, categorical=False) is None
