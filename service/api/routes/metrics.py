"""Prometheus ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from service.db.job_models import JobRecord
from service.observability.metrics import DatabaseGauges, render

router = APIRouter(tags=["health"])


def _job_counts(request: Request) -> dict[str, int]:
    try:
        with request.app.state.database.read() as session:
            rows = session.execute(select(JobRecord.state, func.count()).group_by(JobRecord.state)).all()
    except SQLAlchemyError:
        return {}
    return {state: int(count) for state, count in rows}


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text exposition: request latency, suggest latency, fit failures, jobs, queue depth."""
    registry = CollectorRegistry()
    registry.register(DatabaseGauges(lambda: _job_counts(request)))
    return Response(render(registry), media_type=CONTENT_TYPE_LATEST)
