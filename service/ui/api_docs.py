"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with every asset served from the package.

FastAPI's own pages load their scripts from a CDN and are blank offline; these use FastAPI's page
builders pointed at the bundles of the pinned ``fastapi-offline`` package, without Google fonts, the
FastAPI favicon or Swagger's online validator. ReDoc always asks its CDN for a logo: a small shim
(``static/js/redoc_offline.js``) loaded before it serves the local favicon instead.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

DOCS_STATIC_URL = "/docs-static"
FAVICON_URL = "/ui/static/favicon.svg"
REDOC_SHIM_URL = "/ui/static/js/redoc_offline.js"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the app's OpenAPI document."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} - API",
        swagger_js_url=f"{DOCS_STATIC_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_STATIC_URL}/swagger-ui.css",
        swagger_favicon_url=FAVICON_URL,
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the app's OpenAPI document."""
    script = f"{DOCS_STATIC_URL}/redoc.standalone.js"
    page = get_redoc_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} - API",
        redoc_js_url=script, redoc_favicon_url=FAVICON_URL, with_google_fonts=False,
    )
    html = page.body.decode()
    tag = f'<script src="{script}">'
    if tag not in html:  # a FastAPI release changed the page: fail loudly rather than go online
        raise RuntimeError("unexpected ReDoc page layout; update service.ui.api_docs")
    html = html.replace(tag, f'<script src="{REDOC_SHIM_URL}"></script>\n    {tag}', 1)
    return HTMLResponse(html)
