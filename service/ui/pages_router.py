"""Routes of the dashboard: ``/`` redirects to ``/ui``; each view is one static HTML page.

The pages carry no data: their scripts read it from the public API, so these routes need no key
(an HTML shell reveals nothing) and are left out of the OpenAPI document.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from service.ui.assets import PAGES_DIR

router = APIRouter(include_in_schema=False)

#: Pages must not be cached across releases of the scripts they load.
_NO_CACHE = {"Cache-Control": "no-cache"}


def _page(name: str) -> FileResponse:
    return FileResponse(PAGES_DIR / f"{name}.html", media_type="text/html", headers=_NO_CACHE)


@router.get("/")
def root() -> RedirectResponse:
    """The dashboard is the landing page."""
    return RedirectResponse("/ui", status_code=307)


@router.get("/ui")
def studies_page() -> FileResponse:
    """Studies: name, surrogate, objectives, trials by state, best value, last activity."""
    return _page("studies")


@router.get("/ui/studies/{study_id}")
def study_page(study_id: str) -> FileResponse:
    """One study: history, parallel coordinates, importances, slices, contour, trials table."""
    return _page("study")


@router.get("/ui/jobs")
def jobs_page() -> FileResponse:
    """Jobs with state and live progress."""
    return _page("jobs")


@router.get("/ui/jobs/{job_id}")
def job_page(job_id: str) -> FileResponse:
    """One job: config, progress, result tables, image artifacts inline."""
    return _page("job")
