"""Error responses map to typed exceptions carrying the server's status, code, message and field errors."""

from __future__ import annotations

import builtins
import email.utils
import pickle

import httpx
import pytest

import service.sdk as sdk
from service.sdk import Client
from service.sdk.errors import error_from_response, parse_retry_after

STATUS_CASES = [
    (400, "bad_request", sdk.BadRequestError),
    (401, "unauthorized", sdk.AuthenticationError),
    (403, "forbidden", sdk.PermissionDeniedError),
    (404, "not_found", sdk.NotFoundError),
    (409, "conflict", sdk.ConflictError),
    (413, "payload_too_large", sdk.PayloadTooLargeError),
    (422, "validation_error", sdk.ValidationError),
    (429, "rate_limited", sdk.RateLimitError),
    (500, "internal_error", sdk.ServerError),
    (502, "bad_gateway", sdk.ServerError),
    (503, "unavailable", sdk.ServiceUnavailableError),
    (418, "teapot", sdk.BdloptError),
]


def _client_answering(response: httpx.Response) -> Client:
    http = httpx.Client(transport=httpx.MockTransport(lambda request: response), base_url="http://fake")
    return Client(http_client=http, retries=0)


@pytest.mark.parametrize(("status", "code", "cls"), STATUS_CASES)
def test_status_maps_to_exception_class_with_server_message(status: int, code: str, cls: type) -> None:
    detail = f"study 'abc': problem number {status}"
    client = _client_answering(httpx.Response(status, json={"detail": detail, "code": code}))
    with pytest.raises(cls) as info:
        client.get_study("abc")
    error = info.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.code == code
    assert error.message == detail
    assert error.response_body == {"detail": detail, "code": code}
    assert str(status) in str(error) and detail in str(error)


def test_service_unavailable_is_a_server_error() -> None:
    assert issubclass(sdk.ServiceUnavailableError, sdk.ServerError)
    assert all(issubclass(cls, sdk.BdloptError) for _, _, cls in STATUS_CASES)


def test_validation_error_keeps_field_errors_and_shows_them() -> None:
    errors = [{"loc": ["body", "parameters", 0, "high"], "msg": "high must be greater than low"},
              {"loc": ["body", "name"], "msg": "field required"}]
    body = {"detail": "parameters[0].high: high must be greater than low", "code": "validation_error",
            "errors": errors}
    client = _client_answering(httpx.Response(422, json=body))
    with pytest.raises(sdk.ValidationError) as info:
        client.create_study("s", [{"name": "x", "type": "float", "low": 1.0, "high": 0.0}])
    assert info.value.errors == errors
    text = str(info.value)
    assert "422" in text and "body.parameters.0.high: high must be greater than low" in text
    assert "body.name: field required" in text


def test_fastapi_default_validation_body_is_understood() -> None:
    errors = [{"loc": ["query", "limit"], "msg": "Input should be a valid integer", "type": "int_parsing"}]
    error = error_from_response(httpx.Response(422, json={"detail": errors}))
    assert isinstance(error, sdk.ValidationError)
    assert error.errors == errors
    assert "query.limit: Input should be a valid integer" in str(error)


@pytest.mark.parametrize(("status", "cls"), [(502, sdk.ServerError), (404, sdk.NotFoundError),
                                             (503, sdk.ServiceUnavailableError)])
def test_non_json_body_still_gives_typed_exception_with_text(status: int, cls: type) -> None:
    html = "<html><body>Bad Gateway from nginx</body></html>"
    client = _client_answering(httpx.Response(status, text=html, headers={"Content-Type": "text/html"}))
    with pytest.raises(cls) as info:
        client.list_studies()
    assert info.value.message == html
    assert info.value.code is None
    assert info.value.response_body == html
    assert html in str(info.value)


def test_empty_error_body_uses_reason_phrase() -> None:
    error = error_from_response(httpx.Response(500))
    assert isinstance(error, sdk.ServerError)
    assert error.message == "Internal Server Error"


def test_rate_limit_error_carries_retry_after_seconds() -> None:
    response = httpx.Response(429, json={"detail": "slow down", "code": "rate_limited"},
                              headers={"Retry-After": "7"})
    error = error_from_response(response)
    assert isinstance(error, sdk.RateLimitError)
    assert error.retry_after == 7.0
    assert error_from_response(httpx.Response(429, json={"detail": "x"})).retry_after is None


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.25 ") == 0.25
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0)
    naive = email.utils.formatdate(now + 12)  # "-0000" zone: parsed as a naive datetime
    assert parse_retry_after(naive, now=now) == pytest.approx(12.0)


def test_connection_error_is_builtin_connection_error_and_aliased() -> None:
    assert sdk.ConnectionError is sdk.BdloptConnectionError
    assert issubclass(sdk.BdloptConnectionError, builtins.ConnectionError)
    assert issubclass(sdk.BdloptConnectionError, sdk.BdloptError)
    assert "ConnectionError" not in sdk.__all__  # a star import must not shadow the builtin


def test_errors_survive_pickling() -> None:
    original = error_from_response(httpx.Response(429, json={"detail": "later", "code": "rate_limited"},
                                                  headers={"Retry-After": "2"}))
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is sdk.RateLimitError
    assert (copy.status_code, copy.code, copy.message, copy.retry_after) == (429, "rate_limited", "later", 2.0)
    assert str(copy) == str(original)
    connection = pickle.loads(pickle.dumps(sdk.BdloptConnectionError("down", code="connection_error")))
    assert type(connection) is sdk.BdloptConnectionError and connection.message == "down"
