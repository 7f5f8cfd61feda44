"""Parameter kinds and conditions: validation messages, encodings on exact small cases."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from service.space import SearchSpace, SpaceError, validate_parameter_list
from service.space.params import Parameter
from pydantic import TypeAdapter

from tests.spaces.trees import THREE_LEVEL_TREE, check_point

PARAMETER = TypeAdapter(Parameter)


def space(params) -> SearchSpace:
    return SearchSpace(validate_parameter_list(params))


@pytest.mark.parametrize("payload, field, fragment", [
    ({"name": "x", "type": "float", "low": 0, "high": 1, "step": 0.3}, "step", "multiple of step"),
    ({"name": "x", "type": "float", "low": 1, "high": 10, "log": True, "step": 1}, "step", "cannot be combined"),
    ({"name": "x", "type": "float", "low": 0, "high": 1, "step": -0.5}, "step", "positive"),
    ({"name": "x", "type": "float", "low": 0, "high": 1, "step": 2.2e-311}, "step", "too small"),
    ({"name": "n", "type": "int", "low": 0, "high": 10, "step": 3}, "step", "multiple of step"),
    ({"name": "n", "type": "int", "low": 0, "high": 10, "step": 0}, "step", "greater than or equal to 1"),
    ({"name": "b", "type": "bool", "choices": [0, 1]}, "choices", "Extra inputs"),
    ({"name": "f", "type": "fixed", "value": float("nan")}, "value", "finite"),
    ({"name": "f", "type": "fixed"}, "value", "required"),
])
def test_bad_kinds_name_the_field(payload, field, fragment) -> None:
    with pytest.raises(ValidationError) as info:
        PARAMETER.validate_python(payload)
    error = info.value.errors()[0]
    assert field in [str(part) for part in error["loc"]] and fragment in error["msg"], error


@pytest.mark.parametrize("params, fragment", [
    ([{"name": "a", "type": "float", "low": 0, "high": 1, "when": {"parent": "nope", "values": [1]}}],
     "'a': when.parent: unknown parameter 'nope'"),
    ([{"name": "a", "type": "categorical", "choices": ["x", "y"], "when": {"parent": "b", "values": ["u"]}},
      {"name": "b", "type": "categorical", "choices": ["u", "v"], "when": {"parent": "a", "values": ["x"]}}],
     "cycle"),
    ([{"name": "a", "type": "categorical", "choices": ["x", "y"]},
      {"name": "c", "type": "float", "low": 0, "high": 1, "when": {"parent": "a", "values": ["z"]}}],
     "'c': when.values: 'a' cannot take 'z'"),
    ([{"name": "a", "type": "float", "low": 0, "high": 1},
      {"name": "c", "type": "float", "low": 0, "high": 1, "when": {"parent": "a", "values": [0.5]}}],
     "a parent must be categorical, int or bool"),
    ([{"name": "a", "type": "bool"},
      {"name": "c", "type": "float", "low": 0, "high": 1, "when": {"parent": "a", "values": [1]}}],
     "'a' cannot take 1"),
    ([{"name": "a", "type": "int", "low": 0, "high": 4, "step": 2},
      {"name": "c", "type": "float", "low": 0, "high": 1, "when": {"parent": "a", "values": [1]}}],
     "'a' cannot take 1"),
])
def test_bad_conditions_are_refused_naming_the_parameter(params, fragment) -> None:
    with pytest.raises(ValueError, match="when") as info:
        validate_parameter_list(params)
    assert fragment in str(info.value)


def test_child_before_parent_is_fine_and_decodes_only_active_parameters() -> None:
    tree = space(THREE_LEVEL_TREE)
    assert tree.dim == 9 and tree.is_conditional  # the fixed parameter has no column
    U = torch.rand(2000, tree.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    X = tree.unit_to_encoded(U)
    seen_depths = set()
    for x, params in zip(X, tree.decode_many(X)):
        check_point(params)
        seen_depths.add(len(params))
        assert torch.allclose(tree.encode(params), x, rtol=0, atol=1e-12)  # round trip, inactive columns imputed
    assert len(seen_depths) >= 4  # every branch shows up, down to the third level


def test_step_grids_are_exact() -> None:
    grid = space([{"name": "x", "type": "float", "low": -1.0, "high": 1.0, "step": 0.5},
                  {"name": "n", "type": "int", "low": 10, "high": 40, "step": 10}])
    assert grid.integer_dims == [0, 1]
    assert grid.integer_encodings(0).tolist() == [0.1, 0.3, 0.5, 0.7, 0.9]
    assert grid.integer_encodings(1).tolist() == [0.125, 0.375, 0.625, 0.875]
    values = [grid.decode(row) for row in grid.unit_to_encoded(torch.linspace(0, 1, 101, dtype=torch.float64)
                                                                  .unsqueeze(-1).expand(-1, 2))]
    assert {v["x"] for v in values} == {-1.0, -0.5, 0.0, 0.5, 1.0}
    assert {v["n"] for v in values} == {10, 20, 30, 40}
    with pytest.raises(SpaceError, match="not on the grid"):
        grid.encode({"x": 0.25, "n": 10})
    with pytest.raises(SpaceError, match="not on the grid"):
        grid.encode({"x": 0.5, "n": 15})


def test_bool_and_fixed_round_trip() -> None:
    s = space([{"name": "b", "type": "bool"}, {"name": "f", "type": "fixed", "value": "adam"}])
    assert s.dim == 1 and s.n_choices == {0: 2}
    assert s.decode(torch.tensor([1.0], dtype=torch.float64)) == {"b": True, "f": "adam"}
    assert s.encode({"b": False}).tolist() == [0.0]  # a fixed value may be omitted ...
    assert s.encode({"b": True, "f": "adam"}).tolist() == [1.0]  # ... or repeated
    with pytest.raises(SpaceError, match="'f': is fixed at 'adam'"):
        s.encode({"b": True, "f": "sgd"})
    with pytest.raises(SpaceError, match="'b': must be true or false"):
        s.encode({"b": 1})


def test_inactive_and_missing_parameters_are_named() -> None:
    tree = space(THREE_LEVEL_TREE)
    with pytest.raises(SpaceError, match="'k': inactive: it is used only when 'model' is one of"):
        tree.encode({"model": "rf", "depth": 4, "max_features": 0.5, "k": 3, "scale": True})
    with pytest.raises(SpaceError, match="'degree': missing value"):
        tree.encode({"model": "svm", "C": 1.0, "kernel": "poly", "scale": True})
    with pytest.raises(SpaceError, match="'shrink': inactive: its parent 'degree' is inactive"):
        tree.encode({"model": "svm", "C": 1.0, "kernel": "rbf", "shrink": True, "scale": True})


def test_fixed_for_one_call_needs_the_parents_held() -> None:
    tree = space(THREE_LEVEL_TREE)
    columns = tree.encode_fixed({"model": "svm", "kernel": "poly", "degree": 3})
    X = tree.apply_fixed(tree.unit_to_encoded(torch.rand(200, tree.dim, dtype=torch.float64)), columns)
    for params in tree.decode_many(X):
        check_point(params)
        assert (params["model"], params["kernel"], params["degree"]) == ("svm", "poly", 3) and "shrink" in params
    with pytest.raises(SpaceError, match="'degree': conditional on 'kernel'"):
        tree.encode_fixed({"model": "svm", "degree": 3})
    with pytest.raises(SpaceError, match="'nope': unknown parameter"):
        tree.encode_fixed({"nope": 1})


def test_a_space_of_only_fixed_parameters_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one parameter must be searched"):
        validate_parameter_list([{"name": "a", "type": "fixed", "value": 1}, {"name": "b", "type": "fixed", "value": "x"}])
    # One searched parameter beside fixed ones is a space.
    assert SearchSpace(validate_parameter_list([{"name": "a", "type": "fixed", "value": 1},
                                                {"name": "b", "type": "bool"}])).dim == 1


def test_an_only_fixed_study_is_a_422_naming_parameters(client) -> None:
    response = client.post("/v1/studies", json={"name": "only-fixed", "objectives": [{"name": "f"}],
                                                "parameters": [{"name": "a", "type": "fixed", "value": 1}]})
    assert response.status_code == 422, response.text
    assert "at least one parameter must be searched" in response.text
    assert client.get("/v1/studies").json()["total"] == 0
