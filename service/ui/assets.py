"""Where the dashboard's files live inside the installed package."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import fastapi_offline

#: HTML pages, one per dashboard view.
PAGES_DIR = Path(str(files("service.ui") / "pages"))
#: JavaScript, CSS and the vendored plotting library (served at ``/ui/static``).
STATIC_DIR = Path(str(files("service.ui") / "static"))
#: Swagger UI and ReDoc bundles shipped by the pinned ``fastapi-offline`` package (served at ``/docs-static``).
DOCS_STATIC_DIR = Path(fastapi_offline.__file__).parent / "static"
