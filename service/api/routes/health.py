"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.api.deps import DatabaseDep
from service.api.errors import error_response

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Database unreachable"}})
def readyz(db: DatabaseDep) -> JSONResponse:
    """The process can serve: the study database answers."""
    try:
        db.ping()
    except Exception:  # noqa: BLE001 - any failure means not ready
        return error_response(503, "the study database is unreachable", "unavailable")
    return JSONResponse({"status": "ok", "database": "ok"})
