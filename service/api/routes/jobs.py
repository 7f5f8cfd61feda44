"""``/v1/jobs``: submit, list, read, result, artifacts, predict, cancel."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import FileResponse

from service.api.auth import PrincipalDep
from service.api.deps import DatabaseDep, SettingsDep
from service.api.rate_limit import enforce
from service.api.schemas.common import (
    BODY_RESPONSES,
    ERROR_RESPONSES,
    RATE_LIMIT_RESPONSES,
    ErrorBody,
    Offset,
    PageOf,
)
from service.api.schemas.jobs import JobCreate, JobOut, JobPredictionOut, JobPredictIn, JobResultOut, JobState
from service.api.schemas.links import SUBMITTED_JOB_LINKS
from service.jobs import catalog, posterior_predict
from service.workers.backend import JobBackend

logger = logging.getLogger(__name__)

#: Artifact types a browser may display in place: raster images only (an SVG could carry script).
INLINE_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=ERROR_RESPONSES)


def get_job_backend(request: Request) -> JobBackend:
    """The app's job back end."""
    return request.app.state.job_backend


JobBackendDep = Annotated[JobBackend, Depends(get_job_backend)]


@router.post("", status_code=status.HTTP_202_ACCEPTED,
             responses={202: {"links": SUBMITTED_JOB_LINKS}, **BODY_RESPONSES, **RATE_LIMIT_RESPONSES,
                        503: {"model": ErrorBody, "description": "The job broker or the database is unreachable"}})
def submit_job(body: JobCreate, db: DatabaseDep, settings: SettingsDep, backend: JobBackendDep,
               principal: PrincipalDep, request: Request) -> JobOut:
    """Queue a job; it runs on a worker (``state`` and ``progress`` tell how far it got)."""
    enforce(request, principal, "jobs")
    job = catalog.submit_job(db, body, max_attempts=settings.job_max_attempts, owner=principal.name,
                             dataset_owner=principal.owner_filter(), datasets_dir=settings.resolved_datasets_dir())
    try:
        backend.dispatch(job.id, job.queue)
    except Exception as error:  # noqa: BLE001 - any broker failure
        logger.exception("could not dispatch job %s", job.id)
        catalog.mark_undelivered(db, job.id, f"the job could not be handed to the broker: {type(error).__name__}")
        raise HTTPException(status_code=503, detail="the job broker is unreachable; retry shortly",
                            headers={"Retry-After": "5"}) from None
    return JobOut.of(job)


@router.get("")
def list_jobs(
    db: DatabaseDep,
    principal: PrincipalDep,
    state: JobState | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> PageOf[JobOut]:
    """Jobs, newest first, optionally of one state or kind."""
    page = catalog.list_jobs(db, owner=principal.owner_filter(), state=state, kind=kind, limit=limit, offset=offset)
    return PageOf[JobOut](items=[JobOut.of(j) for j in page.items], total=page.total, limit=page.limit,
                          offset=page.offset)


@router.get("/{job_id}")
def get_job(job_id: str, db: DatabaseDep, principal: PrincipalDep) -> JobOut:
    """One job: state, progress, current epoch and log marginal likelihood, timestamps, error."""
    return JobOut.of(catalog.get_job(db, job_id, owner=principal.owner_filter()))


@router.get("/{job_id}/result")
def get_result(job_id: str, db: DatabaseDep, principal: PrincipalDep) -> JobResultOut:
    """The result of a succeeded job (409 while it is queued or running, or when it failed)."""
    return JobResultOut.of(catalog.job_result(db, job_id, owner=principal.owner_filter()))


@router.get("/{job_id}/artifacts/{name}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}, "application/json": {}}}})
def download_artifact(job_id: str, name: str, db: DatabaseDep, settings: SettingsDep,
                      principal: PrincipalDep) -> FileResponse:
    """Stream an artifact file (safetensors weights, JSON metadata, PNG plots).

    Raster images are sent ``inline`` so a browser shows them; every other type is an attachment.
    """
    artifact, path = catalog.artifact_file(db, settings.resolved_artifacts_dir(), job_id, name,
                                           owner=principal.owner_filter())
    disposition = "inline" if artifact.media_type in INLINE_MEDIA_TYPES else "attachment"
    return FileResponse(path, media_type=artifact.media_type, filename=artifact.name,
                        content_disposition_type=disposition, headers={"X-Content-Type-Options": "nosniff"})


@router.post("/{job_id}/predict", responses=BODY_RESPONSES)
def predict(job_id: str, body: JobPredictIn, db: DatabaseDep, settings: SettingsDep,
            principal: PrincipalDep) -> JobPredictionOut:
    """Predictions with uncertainty from a succeeded ``laplace`` or ``marglik`` job's fitted posterior (409 for
    other kinds or unfinished jobs; 422 naming ``rows`` for rows of the wrong width)."""
    prediction = posterior_predict.predict(db, settings.resolved_artifacts_dir(), settings.resolved_datasets_dir(),
                                           job_id, body.rows, owner=principal.owner_filter(),
                                           observation_noise=body.observation_noise, link=body.link)
    return JobPredictionOut(**prediction)


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, db: DatabaseDep, principal: PrincipalDep) -> JobOut:
    """Cancel a job: a queued one at once, a running one at its next check (at least once per epoch)."""
    return JobOut.of(catalog.cancel_job(db, job_id, owner=principal.owner_filter()))
