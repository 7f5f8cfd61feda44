"""Encoding and decoding of search spaces (exact small cases, float64)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from service.space import CategoricalParam, FloatParam, IntParam, SearchSpace, SpaceError


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace([
        FloatParam(name="x", low=-2.0, high=2.0),
        FloatParam(name="lr", low=1e-4, high=1.0, log=True),
        IntParam(name="n", low=1, high=4),
        IntParam(name="m", low=1, high=1000, log=True),
        CategoricalParam(name="c", choices=["a", 2, 3.5]),
    ])


def test_structure_and_bounds(space: SearchSpace) -> None:
    assert space.names == ["x", "lr", "n", "m", "c"] and space.dim == 5
    assert space.continuous_dims == [0, 1] and space.integer_dims == [2, 3]
    assert space.categorical_dims == [4] and space.n_choices == {4: 3}
    expected = torch.tensor([[0, 0, 0, 0, 0], [1, 1, 1, 1, 2]], dtype=torch.float64)
    assert torch.equal(space.bounds(), expected)
    assert space.bounds(dtype=torch.float32).dtype == torch.float32


def test_encode_exact_values(space: SearchSpace) -> None:
    x = space.encode({"x": 1.0, "lr": 1e-2, "n": 3, "m": 10, "c": 2})
    assert x.dtype == torch.float64 and x.shape == (5,)
    assert x[0].item() == pytest.approx(0.75, abs=1e-15)
    assert x[1].item() == pytest.approx(0.5, abs=1e-15)  # log10 scale: -2 is halfway between -4 and 0
    assert x[2].item() == pytest.approx(2.5 / 4, abs=1e-15)  # cell centre of 3 in [0.5, 4.5]
    expected_m = (math.log(10) - math.log(0.5)) / (math.log(1000.5) - math.log(0.5))
    assert x[3].item() == pytest.approx(expected_m, abs=1e-15)
    assert x[4].item() == 1.0  # index of choice 2


def test_round_trip_is_exact_and_json_plain(space: SearchSpace) -> None:
    rows = [
        {"x": -2.0, "lr": 1e-4, "n": 1, "m": 1, "c": "a"},
        {"x": 2.0, "lr": 1.0, "n": 4, "m": 1000, "c": 3.5},
        {"x": 0.3, "lr": 0.001, "n": 2, "m": 77, "c": 2},
    ]
    X = space.encode_many(rows)
    assert X.shape == (3, 5)
    decoded = space.decode_many(X)
    assert decoded == rows
    assert [type(v) for v in decoded[2].values()] == [float, float, int, int, int]
    assert json.loads(json.dumps(decoded)) == rows
    assert torch.allclose(space.canonicalize(X), X, atol=1e-12, rtol=0)


def test_decode_clamps_rounds_and_snaps(space: SearchSpace) -> None:
    params = space.decode(torch.tensor([1.7, -0.3, 0.49, 0.0, 5.2], dtype=torch.float64))
    assert params == {"x": 2.0, "lr": 1e-4, "n": 2, "m": 1, "c": 3.5}
    # int cells: u in [0.25, 0.5) -> 2 for n in 1..4
    assert space.decode(torch.tensor([0.5, 0.5, 0.2499, 0.5, 0.0], dtype=torch.float64))["n"] == 1
    assert space.decode(torch.tensor([0.5, 0.5, 0.2501, 0.5, 0.0], dtype=torch.float64))["n"] == 2
    with pytest.raises(SpaceError, match="shape"):
        space.decode(torch.zeros(4, dtype=torch.float64))


def test_canonicalize_equals_encode_of_decode(space: SearchSpace) -> None:
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(200, 5, generator=gen, dtype=torch.float64) * 1.2 - 0.1
    X[:, 4] = X[:, 4] * 2
    canon = space.canonicalize(X)
    expected = space.encode_many(space.decode_many(X))
    assert torch.allclose(canon, expected, atol=1e-12, rtol=0)
    assert torch.allclose(space.canonicalize(canon), canon, atol=1e-12, rtol=0)  # idempotent
    batch = space.canonicalize(X.reshape(20, 10, 5))  # (..., D) shapes
    assert torch.allclose(batch.reshape(200, 5), canon)


@pytest.mark.parametrize(
    "params, name, fragment",
    [
        ({"x": 0.0, "lr": 0.1, "n": 1, "m": 1, "c": "a", "zz": 1}, "zz", "unknown parameter"),
        ({"x": 0.0, "lr": 0.1, "n": 1, "c": "a"}, "m", "missing"),
        ({"x": 2.5, "lr": 0.1, "n": 1, "m": 1, "c": "a"}, "x", "out of bounds"),
        ({"x": 0.0, "lr": 1e-5, "n": 1, "m": 1, "c": "a"}, "lr", "out of bounds"),
        ({"x": 0.0, "lr": 0.1, "n": 5, "m": 1, "c": "a"}, "n", "out of bounds"),
        ({"x": float("nan"), "lr": 0.1, "n": 1, "m": 1, "c": "a"}, "x", "finite"),
        ({"x": float("inf"), "lr": 0.1, "n": 1, "m": 1, "c": "a"}, "x", "finite"),
        ({"x": "0.5", "lr": 0.1, "n": 1, "m": 1, "c": "a"}, "x", "must be a number"),
        ({"x": True, "lr": 0.1, "n": 1, "m": 1, "c": "a"}, "x", "must be a number"),
        ({"x": 0.0, "lr": 0.1, "n": True, "m": 1, "c": "a"}, "n", "must be an integer"),
        ({"x": 0.0, "lr": 0.1, "n": 1.5, "m": 1, "c": "a"}, "n", "must be an integer"),
        ({"x": 0.0, "lr": 0.1, "n": None, "m": 1, "c": "a"}, "n", "must be an integer"),
        ({"x": 0.0, "lr": 0.1, "n": 1, "m": 1, "c": "b"}, "c", "not one of the choices"),
        ({"x": 0.0, "lr": 0.1, "n": 1, "m": 1, "c": "2"}, "c", "not one of the choices"),
        ({"x": 0.0, "lr": 0.1, "n": 1, "m": 1, "c": True}, "c", "not one of the choices"),
    ],
)
def test_encode_errors_name_the_parameter(space: SearchSpace, params: dict, name: str, fragment: str) -> None:
    with pytest.raises(SpaceError) as info:
        space.encode(params)
    assert info.value.field == name
    assert fragment in info.value.message
    assert f"parameter '{name}'" in str(info.value)


def test_encode_accepts_integral_floats_for_ints_and_numbers_for_choices(space: SearchSpace) -> None:
    a = space.encode({"x": 0, "lr": 0.1, "n": 3.0, "m": 5, "c": 2.0})
    b = space.encode({"x": 0.0, "lr": 0.1, "n": 3, "m": 5, "c": 2})
    assert torch.equal(a, b)
    with pytest.raises(SpaceError, match="must be an object"):
        space.encode([0.0, 0.1, 1, 1, "a"])  # type: ignore[arg-type]


def test_space_rejects_duplicate_names() -> None:
    with pytest.raises(SpaceError, match="parameter 'x': duplicate"):
        SearchSpace([FloatParam(name="x", low=0, high=1), IntParam(name="x", low=0, high=2)])


def test_unit_to_encoded_gives_equal_shares() -> None:
    space = SearchSpace([IntParam(name="n", low=-2, high=2), CategoricalParam(name="c", choices=["a", "b", "c"])])
    u = torch.linspace(0, 1 - 1e-9, 3000, dtype=torch.float64).unsqueeze(-1).expand(3000, 2)
    decoded = space.decode_many(space.unit_to_encoded(u))
    n_counts = {k: sum(d["n"] == k for d in decoded) for k in range(-2, 3)}
    c_counts = {k: sum(d["c"] == k for d in decoded) for k in "abc"}
    assert all(abs(v - 600) <= 1 for v in n_counts.values()), n_counts
    assert all(abs(v - 1000) <= 1 for v in c_counts.values()), c_counts


def test_integer_encodings_are_the_canonical_cell_points(space: SearchSpace) -> None:
    values = space.integer_encodings(2)
    assert torch.allclose(values, torch.tensor([0.125, 0.375, 0.625, 0.875], dtype=torch.float64), atol=1e-15)
    log_values = space.integer_encodings(3)
    assert log_values.shape == (1000,) and bool((log_values.diff() > 0).all())
    rows = torch.full((1000, 5), 0.5, dtype=torch.float64)
    rows[:, 3] = log_values
    assert [d["m"] for d in space.decode_many(rows)] == list(range(1, 1001))
    with pytest.raises(SpaceError, match="not an integer parameter"):
        space.integer_encodings(0)
