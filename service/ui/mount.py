"""Adds the dashboard, its static files and the offline API docs to an app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.ui import api_docs, pages_router
from service.ui.assets import DOCS_STATIC_DIR, STATIC_DIR


def install_ui(app: FastAPI) -> None:
    """Serve ``/ui``, ``/ui/static``, ``/docs``, ``/redoc`` and ``/docs-static``; ``/`` redirects to ``/ui``.

    The app must be built with ``docs_url=None, redoc_url=None`` (FastAPI's CDN-based pages).
    """
    app.include_router(pages_router.router)
    app.include_router(api_docs.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    app.mount(api_docs.DOCS_STATIC_URL, StaticFiles(directory=DOCS_STATIC_DIR), name="docs-static")
