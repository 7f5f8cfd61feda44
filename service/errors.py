"""Service-wide domain errors; the API turns each into an HTTP status with the message as ``detail``."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: ``message`` is safe to show to a client."""

    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(DomainError):
    """The study or trial does not exist (or is not visible to the caller)."""

    code = "not_found"


class ConflictError(DomainError):
    """The request contradicts the current state (e.g. observing a completed trial)."""

    code = "conflict"


class InvalidInputError(DomainError):
    """The request is well-formed JSON but semantically invalid (names ``field``)."""

    code = "validation_error"
