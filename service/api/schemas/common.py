"""Shared response shapes: errors and pagination."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")


class FieldError(BaseModel):
    """One invalid field of a request."""

    loc: list[str | int]
    msg: str


class ErrorBody(BaseModel):
    """Body of every error response."""

    detail: str
    code: str
    errors: list[FieldError] | None = None
    request_id: str | None = None


#: Largest list offset: past any real listing, and within every database's integer (SQLite raises
#: OverflowError, a 500, for offsets beyond 64 bits).
MAX_OFFSET = 2**31 - 1

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many items to skip")]
"""The ``offset`` query parameter of every listing."""


class PageOf(BaseModel, Generic[T]):
    """One page of a listing."""

    items: list[T]
    total: int
    limit: int
    offset: int


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No API key, or an invalid or revoked one"},
    404: {"model": ErrorBody, "description": "Not found"},
    409: {"model": ErrorBody, "description": "Conflicts with the current state"},
    422: {"model": ErrorBody, "description": "Invalid request"},
    503: {"model": ErrorBody, "description": "The study database is unavailable; retry after `Retry-After` seconds"},
}
"""The errors every ``/v1`` operation can answer."""

BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body could not be parsed (e.g. not UTF-8 JSON, a broken form)"},
    413: {"model": ErrorBody, "description": "The request body is larger than the configured limit"},
}
"""Added to operations that take a request body (the size limit is enforced by middleware)."""

RATE_LIMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Over this key's rate limit; retry after `Retry-After` seconds"},
}
"""Added to the rate-limited operations (suggest, job submission)."""
