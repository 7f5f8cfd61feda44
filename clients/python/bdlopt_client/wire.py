"""Small helpers of the client: resource paths, JSON-plain values and typed parsing of response bodies."""

from __future__ import annotations

import math
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pydantic

from .errors import BdloptError
from .models import Study, Trial

_Model = TypeVar("_Model", bound=pydantic.BaseModel)


def object_id(obj: str | Study | Trial) -> str:
    return obj if isinstance(obj, str) else obj.id


def study_path(study_id: str | Study) -> str:
    return "/v1/studies/" + quote(object_id(study_id), safe="")


def trial_path(study_id: str | Study, trial_id: str | Trial) -> str:
    return study_path(study_id) + "/trials/" + quote(object_id(trial_id), safe="")


def as_plain_dict(item: Any) -> dict[str, Any]:
    if hasattr(item, "model_dump"):
        return item.model_dump(exclude_none=True)
    return dict(item)


def plain_value(value: Any) -> Any:
    """A numpy / torch scalar as the Python scalar JSON can encode; anything else unchanged."""
    if not isinstance(value, (str, bytes, bool, int, float)) and hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def finite_number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a number, got {value!r}") from exc
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number}; report a failed evaluation with fail()")
    return number


def parse_body(model: type[_Model], response: httpx.Response, data: Any) -> _Model:
    """Validate ``data`` (a 2xx body or part of it) as ``model``; a malformed body is a BdloptError."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise BdloptError(f"unexpected response body: {exc}", status_code=response.status_code,
                          code="invalid_response", response_body=data) from exc


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise BdloptError(f"the server answered {response.status_code} with a body that is not JSON",
                          status_code=response.status_code, code="invalid_response",
                          response_body=response.text[:2000]) from exc
