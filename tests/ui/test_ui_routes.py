"""The dashboard's routes without a browser: redirects, pages, package assets, offline docs pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from service.ui.assets import DOCS_STATIC_DIR, PAGES_DIR, STATIC_DIR


def test_root_redirects_to_ui_and_the_pages_are_html(client: TestClient):
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/ui"
    for path in ("/ui", "/ui/studies/any-id", "/ui/jobs", "/ui/jobs/any-id"):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path


def test_every_asset_a_page_names_is_served_from_this_server(client: TestClient):
    for page in PAGES_DIR.glob("*.html"):
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.read_text())
        assert sources, page
        for source in sources:
            assert source.startswith("/"), f"{page.name} loads {source} from elsewhere"
            assert client.get(source).status_code == 200, source
    for script in (STATIC_DIR / "js").glob("*.js"):
        for module in re.findall(r'from "\./([^"]+)"', script.read_text()):
            assert (STATIC_DIR / "js" / module).is_file(), f"{script.name} imports a missing {module}"
    assert client.get("/ui/static/js/study.js").headers["content-type"].startswith(("text/javascript",
                                                                                   "application/javascript"))


def test_docs_pages_load_their_scripts_locally(client: TestClient):
    for path, bundle in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(path).text
        assert f'src="/docs-static/{bundle}"' in html, path
        assert not re.search(r'(src|href)="https?://', html), path
        assert client.get(f"/docs-static/{bundle}").status_code == 200
        assert (DOCS_STATIC_DIR / bundle).stat().st_size > 100_000


def test_ui_routes_stay_out_of_the_api_schema(client: TestClient):
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith(("/ui", "/docs", "/redoc"))]


def test_the_vendored_plotting_library_keeps_its_licence():
    licence = (STATIC_DIR / "vendor" / "plotly" / "LICENSE").read_text()
    assert "MIT" in licence or "Permission is hereby granted" in licence


def test_every_dashboard_file_is_package_data():
    """A wheel install has every page and asset: each file matches a ``package-data`` pattern."""
    import fnmatch
    import tomllib

    root = PAGES_DIR.parent
    patterns = tomllib.loads((root.parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "service.ui"]
    files = [p.relative_to(root).as_posix() for p in root.rglob("*")
             if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]
    assert files
    unpackaged = [f for f in files if not any(fnmatch.fnmatchcase(f, pattern) and f.count("/") == pattern.count("/")
                                              for pattern in patterns)]
    assert unpackaged == []
