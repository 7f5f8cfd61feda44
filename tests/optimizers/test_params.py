"""Validation of parameter models: every rule rejects with a message naming the problem."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from service.space import CategoricalParam, FloatParam, IntParam, Parameter, validate_parameter_list


class _Holder(BaseModel):
    parameters: list[Parameter]


def _errors(payload: dict) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        _Holder.model_validate({"parameters": [payload]})
    return info.value.errors()


def _single_error(payload: dict) -> tuple[tuple, str]:
    errors = _errors(payload)
    assert len(errors) == 1, errors
    return errors[0]["loc"], errors[0]["msg"]


def test_valid_parameters_parse_with_discriminator() -> None:
    held = _Holder.model_validate({"parameters": [
        {"name": "x", "type": "float", "low": 0, "high": 1},
        {"name": "n", "type": "int", "low": 1, "high": 10, "log": True},
        {"name": "c", "type": "categorical", "choices": ["a", "b", 3, 2.5]},
    ]})
    assert [type(p) for p in held.parameters] == [FloatParam, IntParam, CategoricalParam]
    assert held.parameters[2].choices == ["a", "b", 3, 2.5]
    assert isinstance(held.parameters[2].choices[2], int)


@pytest.mark.parametrize(
    "payload, field, fragment",
    [
        ({"name": "x", "type": "float", "low": 1.0, "high": 1.0}, "high", "high must be greater than low"),
        ({"name": "x", "type": "float", "low": 2.0, "high": 1.0}, "high", "high must be greater than low"),
        ({"name": "n", "type": "int", "low": 5, "high": 5}, "high", "high must be greater than low"),
        ({"name": "x", "type": "float", "low": 0.0, "high": float("inf")}, "high", "high must be finite"),
        ({"name": "x", "type": "float", "low": float("nan"), "high": 1.0}, "low", "low must be finite"),
        ({"name": "x", "type": "float", "low": 0.0, "high": 1.0, "log": True}, "log", "log=True needs low > 0"),
        ({"name": "n", "type": "int", "low": -1, "high": 4, "log": True}, "log", "log=True needs low > 0"),
        ({"name": "x", "type": "float", "low": True, "high": 2.0}, "low", "boolean"),
        ({"name": "", "type": "float", "low": 0.0, "high": 1.0}, "name", "1 to 128 characters"),
        ({"name": "a" * 129, "type": "float", "low": 0.0, "high": 1.0}, "name", "1 to 128 characters"),
        ({"name": "c", "type": "categorical", "choices": ["a"]}, "choices", "2 to 1000 entries"),
        ({"name": "c", "type": "categorical", "choices": list(range(1001))}, "choices", "2 to 1000 entries"),
        ({"name": "c", "type": "categorical", "choices": ["a", "b", "a"]}, "choices", "unique"),
        ({"name": "c", "type": "categorical", "choices": [1, 1.0]}, "choices", "unique"),
        ({"name": "c", "type": "categorical", "choices": ["a", True]}, "choices", "boolean"),
        ({"name": "c", "type": "categorical", "choices": ["a", float("nan")]}, "choices", "finite"),
    ],
)
def test_each_rule_names_field_and_problem(payload: dict, field: str, fragment: str) -> None:
    loc, msg = _single_error(payload)
    assert loc[-1] == field
    assert fragment in msg


def test_unknown_type_and_extra_fields_are_rejected() -> None:
    errors = _errors({"name": "x", "type": "complex", "low": 0, "high": 1})
    assert "type" in str(errors[0]["loc"]) or "tag" in errors[0]["msg"].lower()
    errors = _errors({"name": "x", "type": "float", "low": 0, "high": 1, "stride": 0.1})
    assert errors[0]["loc"][-1] == "stride"


def test_choice_strings_stay_strings_and_numbers_stay_numbers() -> None:
    p = CategoricalParam(name="c", choices=["1", 1, 1.5])
    assert p.index_of("1") == 0 and p.index_of(1) == 1 and p.index_of(1.0) == 1
    assert p.index_of(True) is None and p.index_of(1.5) == 2 and p.index_of("1.5") is None


def test_parameter_list_rules() -> None:
    x = FloatParam(name="x", low=0, high=1)
    assert validate_parameter_list([x, {"name": "y", "type": "int", "low": 0, "high": 3}])[1] == IntParam(
        name="y", low=0, high=3
    )
    with pytest.raises(ValueError, match="parameter 'x': duplicate parameter name"):
        validate_parameter_list([x, IntParam(name="x", low=0, high=2)])
    with pytest.raises(ValueError, match="1 to 100 entries"):
        validate_parameter_list([])
    with pytest.raises(ValueError, match="1 to 100 entries"):
        validate_parameter_list([FloatParam(name=f"x{i}", low=0, high=1) for i in range(101)])
