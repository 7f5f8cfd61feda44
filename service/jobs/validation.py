"""Turning pydantic validation errors of nested job fields into domain errors that name the field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from service.errors import InvalidInputError

_Model = TypeVar("_Model", bound=BaseModel)


def validate_section(model: type[_Model], value: Any, section: str) -> _Model:
    """``model.model_validate(value)``, raising InvalidInputError whose field is ``section.<loc>``.

    Args:
        model: the pydantic model of the section (e.g. a job kind's config).
        value: the client's JSON value.
        section: the field of the request body the value came from (``"config"``, ``"model"``).
    """
    try:
        return model.model_validate(value)
    except ValidationError as error:
        problems = error.errors()
        first = problems[0]
        field = ".".join([section, *(str(part) for part in first.get("loc", ()))])
        messages = []
        for problem in problems:
            where = ".".join([section, *(str(part) for part in problem.get("loc", ()))])
            text = str(problem.get("msg", "invalid value")).removeprefix("Value error, ")
            if problem.get("type") == "extra_forbidden":
                text = "unknown field"
            messages.append(f"{where}: {text}")
        raise InvalidInputError("; ".join(messages), field=field) from None
