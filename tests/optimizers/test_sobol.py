"""Sobol policy, request validation and the policy registry."""

from __future__ import annotations

import math

import pytest
import torch

from service.optimizers import SobolPolicy, SuggestRequest, get_policy, surrogate_names
from service.optimizers.base import PredictionUnavailable
from service.optimizers.sobol import draw_sobol
from service.space import CategoricalParam, FloatParam, IntParam, SearchSpace

F64 = torch.float64


def _space() -> SearchSpace:
    return SearchSpace([
        FloatParam(name="x", low=0, high=1),
        IntParam(name="n", low=1, high=5),
        CategoricalParam(name="c", choices=["a", "b"]),
    ])


def _request(space: SearchSpace, n_suggested: int, count: int, seed: int = 7, pending=None, X=None) -> SuggestRequest:
    X = torch.zeros(0, space.dim, dtype=F64) if X is None else X
    return SuggestRequest(
        space=space, X=X, y=torch.zeros(X.shape[0], dtype=F64), y_var=None,
        pending=torch.zeros(0, space.dim, dtype=F64) if pending is None else pending,
        count=count, seed=seed, n_suggested=n_suggested, n_initial=5,
    )


def test_sequence_continues_and_is_reproducible() -> None:
    space, policy = _space(), SobolPolicy()
    first = policy.suggest(_request(space, 0, 4)).X
    second = policy.suggest(_request(space, 4, 3)).X
    together = policy.suggest(_request(space, 0, 7)).X
    assert torch.equal(torch.cat([first, second]), together)
    assert torch.equal(policy.suggest(_request(space, 0, 4)).X, first)
    assert not torch.equal(policy.suggest(_request(space, 0, 4, seed=8)).X, first)
    suggestion = policy.suggest(_request(space, 0, 4))
    assert suggestion.policy == "sobol" and suggestion.X.dtype == F64


def test_cached_engines_draw_what_a_fresh_engine_draws() -> None:
    """draw_sobol reuses one scrambled engine per (dimension, seed); interleaved calls at other starts,
    seeds and in other threads must not leak into a sequence."""
    from concurrent.futures import ThreadPoolExecutor

    from torch.quasirandom import SobolEngine

    space = SearchSpace([FloatParam(name="x", low=0, high=1), FloatParam(name="y", low=-2, high=3)])

    def fresh(seed: int, start: int, count: int) -> torch.Tensor:
        engine = SobolEngine(dimension=2, scramble=True, seed=seed)
        if start:
            engine.fast_forward(start)
        return space.unit_to_encoded(engine.draw(count, dtype=F64))

    calls = [(seed, start, count) for seed in (3, 4) for start in (0, 1, 5, 37, 1000) for count in (1, 3)]
    for seed, start, count in calls + calls[::-1]:
        assert torch.equal(draw_sobol(space, seed, start, count), fresh(seed, start, count)), (seed, start, count)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda c: draw_sobol(space, *c), calls * 4))
    for (seed, start, count), X in zip(calls * 4, results):
        assert torch.equal(X, fresh(seed, start, count)), (seed, start, count)


def test_points_are_canonical_and_inside_bounds() -> None:
    space = _space()
    X = SobolPolicy().suggest(_request(space, 3, 64)).X
    bounds = space.bounds()
    assert X.shape == (64, 3)
    assert bool((X >= bounds[0]).all() and (X <= bounds[1]).all())
    assert torch.equal(space.canonicalize(X), X)


def test_pending_and_observed_points_are_skipped() -> None:
    space = SearchSpace([FloatParam(name="x", low=0, high=1), FloatParam(name="y", low=0, high=1)])
    sequence = draw_sobol(space, seed=3, start=10, count=4)
    request = _request(space, 10, 2, seed=3, pending=sequence[:1], X=sequence[1:2])
    X = SobolPolicy().suggest(request).X
    assert torch.equal(X, sequence[2:4])


def test_exhausted_space_still_returns_count_points() -> None:
    space = SearchSpace([CategoricalParam(name="c", choices=["a", "b"])])
    observed = torch.tensor([[0.0], [1.0]], dtype=F64)
    X = SobolPolicy().suggest(_request(space, 0, 3, X=observed)).X
    assert X.shape == (3, 1)
    fresh = SobolPolicy().suggest(_request(space, 0, 2, X=observed[:1])).X
    assert fresh[0].item() == 1.0  # the unused choice comes first


def test_integers_get_equal_shares_of_sobol_draws() -> None:
    space = SearchSpace([IntParam(name="n", low=1, high=5), IntParam(name="m", low=1, high=100, log=True),
                         CategoricalParam(name="c", choices=["a", "b", "c"]),
                         FloatParam(name="x", low=0, high=1)])  # the float column makes all points distinct
    decoded = space.decode_many(draw_sobol(space, seed=0, start=0, count=1500))
    counts = [sum(d["n"] == k for d in decoded) for k in range(1, 6)]
    assert all(abs(c - 300) <= 15 for c in counts), counts
    choice_counts = [sum(d["c"] == k for d in decoded) for k in "abc"]
    assert all(abs(c - 500) <= 15 for c in choice_counts), choice_counts
    small_m = sum(d["m"] <= 10 for d in decoded) / len(decoded)
    expected = math.log(10.5 / 0.5) / math.log(100.5 / 0.5)  # log scale over [0.5, 100.5]
    assert abs(small_m - expected) < 0.02


def test_request_validation() -> None:
    space = _space()
    with pytest.raises(ValueError, match="count"):
        _request(space, 0, 0)
    with pytest.raises(ValueError, match="count"):
        _request(space, 0, 65)
    with pytest.raises(ValueError, match="X must have shape"):
        _request(space, 0, 1, X=torch.zeros(2, 2, dtype=F64))
    with pytest.raises(ValueError, match="pending must have shape"):
        _request(space, 0, 1, pending=torch.zeros(1, 4, dtype=F64))


def test_registry() -> None:
    assert isinstance(get_policy("random"), SobolPolicy)
    assert get_policy("random") is get_policy("random")
    assert get_policy("gp").name == "gp"
    with pytest.raises(ValueError, match="unknown surrogate 'nope'"):
        get_policy("nope")
    assert surrogate_names()[0] == "random" and {"gp", "lla"} <= set(surrogate_names())
    with pytest.raises(PredictionUnavailable):
        get_policy("random").predict(_request(_space(), 0, 1), torch.zeros(1, 3, dtype=F64))
