"""Typed exceptions raised by the bdlopt SDK, and the mapping from an HTTP error response to them.

Every non-2xx response of the server (the ErrorBody schema of openapi/openapi.json) carries
``{"detail": str, "code": str, "errors": [{"loc": [...], "msg": str}]}``. :func:`error_from_response`
turns such a response into the exception class of its status code, keeping the server's message, the
machine code and the field errors. Bodies that are not JSON (a proxy's HTML 502 page, a plain-text
500) still give a typed exception carrying the text.
"""

from __future__ import annotations

import builtins
import datetime
import email.utils
import json
import math
import time
from typing import Any

import httpx

#: Longest response text kept in an exception built from a non-JSON body (characters).
MAX_TEXT_BODY_CHARS = 2000


class BdloptError(Exception):
    """Base class of every error raised by the SDK.

    Attributes:
        status_code: the HTTP status of the response, ``None`` when no response was received.
        code: the server's machine code (``"not_found"``, ``"validation_error"``, ...), ``None`` when unknown.
        message: the server's human message (its ``detail``), or a message written by the SDK.
        errors: the field errors of a 422 response, each ``{"loc": [...], "msg": str}``; empty otherwise.
        response_body: the decoded JSON body, or the response text when the body is not JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        response_body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.errors: list[dict[str, Any]] = list(errors or [])
        self.response_body = response_body

    def __str__(self) -> str:
        head = " ".join(str(part) for part in (self.status_code, self.code) if part is not None)
        text = f"{head}: {self.message}" if head else self.message
        if self.errors:
            text += " [" + "; ".join(_format_field_error(error) for error in self.errors[:5])
            text += "; ...]" if len(self.errors) > 5 else "]"
        return text

    def __reduce__(self):  # keeps keyword-only attributes through pickling (multiprocessing workers)
        return (_rebuild_error, (type(self), self.message, self.__dict__.copy()))


class BadRequestError(BdloptError):
    """400: the request is malformed or contradicts the study (e.g. both ``trial_id`` and ``params``)."""


class AuthenticationError(BdloptError):
    """401: no API key, or an API key the server does not know."""


class PermissionDeniedError(BdloptError):
    """403: the API key is valid but may not perform this operation."""


class NotFoundError(BdloptError):
    """404: the study or trial does not exist (or ``best`` on a study with no completed trial)."""


class ConflictError(BdloptError):
    """409: the operation conflicts with the current state (observing a finished trial, ``predict`` too early)."""


class PayloadTooLargeError(BdloptError):
    """413: the request body is larger than the server accepts."""


class ValidationError(BdloptError):
    """422: the request body failed validation; :attr:`errors` lists the offending fields."""


class RateLimitError(BdloptError):
    """429: too many requests. :attr:`retry_after` is the server's Retry-After in seconds, or ``None``."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(BdloptError):
    """5xx: the server failed; the request may or may not have been applied."""


class ServiceUnavailableError(ServerError):
    """503: the server (or its database) is not ready; retrying later is expected to succeed."""


class BdloptConnectionError(BdloptError, builtins.ConnectionError):
    """The server could not be reached (after the retries the call allows), or the connection broke.

    Also a subclass of the builtin :class:`ConnectionError`, so ``except ConnectionError`` catches it.
    """


#: The SDK's connection error under the name the docs use (``bdlopt_client.errors.ConnectionError``).
ConnectionError = BdloptConnectionError  # noqa: A001 - deliberate, documented alias

_ERROR_BY_STATUS: dict[int, type[BdloptError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: ValidationError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def error_class_for_status(status_code: int) -> type[BdloptError]:
    """The exception class for an HTTP error status (unlisted 5xx -> ServerError, other -> BdloptError)."""
    if status_code in _ERROR_BY_STATUS:
        return _ERROR_BY_STATUS[status_code]
    if 500 <= status_code <= 599:
        return ServerError
    return BdloptError


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; ``None`` when absent/invalid.

    Args:
        value: the raw header value.
        now: the current POSIX time (for tests); defaults to ``time.time()``.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:  # RFC 7231 dates are GMT ("-0000" parses as naive)
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def error_from_response(response: httpx.Response) -> BdloptError:
    """Build the typed exception for a non-2xx ``response`` (does not raise it).

    JSON bodies in the service error format (ErrorBody) give ``message=detail``, ``code`` and ``errors``; FastAPI's
    default ``{"detail": [...]}`` validation body is also understood. Any other body gives its text
    (truncated to :data:`MAX_TEXT_BODY_CHARS`) as the message.
    """
    status = response.status_code
    cls = error_class_for_status(status)
    body: Any
    code: str | None = None
    errors: list[dict[str, Any]] = []
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        body = response.text
    if isinstance(body, dict):
        detail = body.get("detail")
        code = body.get("code") if isinstance(body.get("code"), str) else None
        raw_errors = body.get("errors")
        if isinstance(detail, list):  # FastAPI's default 422 body: the field errors are the detail
            raw_errors = raw_errors if isinstance(raw_errors, list) else detail
            detail = "request validation failed"
        if isinstance(raw_errors, list):
            errors = [error if isinstance(error, dict) else {"msg": str(error)} for error in raw_errors]
        message = str(detail) if detail is not None else _reason(response)
    else:
        text = str(body).strip()
        if len(text) > MAX_TEXT_BODY_CHARS:
            text = text[:MAX_TEXT_BODY_CHARS] + "..."
        message = text or _reason(response)
    kwargs: dict[str, Any] = dict(status_code=status, code=code, errors=errors, response_body=body)
    if cls is RateLimitError:
        kwargs["retry_after"] = parse_retry_after(response.headers.get("Retry-After"))
    return cls(message, **kwargs)


def _reason(response: httpx.Response) -> str:
    return response.reason_phrase or f"HTTP {response.status_code}"


def _format_field_error(error: dict[str, Any]) -> str:
    loc = error.get("loc")
    where = ".".join(str(part) for part in loc) if isinstance(loc, (list, tuple)) else None
    msg = str(error.get("msg", ""))
    return f"{where}: {msg}" if where else msg


def _rebuild_error(cls: type[BdloptError], message: str, state: dict[str, Any]) -> BdloptError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error
