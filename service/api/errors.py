"""Exception handlers: every error leaves as ``{"detail", "code", "errors"?}``, never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.observability.logs import current_request_id
from service.errors import ConflictError, DomainError, InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

_STATUS = {NotFoundError: 404, ConflictError: 409, InvalidInputError: 422}
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "payload_too_large", 422: "validation_error", 429: "rate_limited",
          503: "unavailable"}


def error_response(status: int, detail: str, code: str | None = None, errors: list | None = None) -> JSONResponse:
    """The JSON error body used by every handler."""
    body: dict = {"detail": detail, "code": code or _CODES.get(status, "error")}
    if errors is not None:
        body["errors"] = errors
    body["request_id"] = current_request_id()
    return JSONResponse(status_code=status, content=body)


def _loc_text(loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for error in exc.errors():
        loc = [p for p in error.get("loc", ()) if not (isinstance(p, str) and "[" in p and p.endswith("]"))]
        msg = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        errors.append({"loc": loc, "msg": msg})
    detail = "; ".join(f"{_loc_text(e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
    return error_response(422, detail, "validation_error", errors)


async def _domain(_: Request, exc: DomainError) -> JSONResponse:
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
    errors = None
    if isinstance(exc, InvalidInputError):
        errors = [{"loc": ["body", *(exc.field or "").split(".")], "msg": exc.message}]
    return error_response(status, exc.message, exc.code, errors)


async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    response = error_response(exc.status_code, str(exc.detail), _CODES.get(exc.status_code))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        response = error_response(503, "the study database is unavailable; retry shortly", "unavailable")
        response.headers["Retry-After"] = "1"
        return response
    logger.exception("database error")
    return error_response(500, "internal error", "internal_error")


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal error", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(Exception, _unexpected)
