"""Fixtures of the dashboard tests: one Chromium per module and a live ``bdlopt serve``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.live_server import live_server
from tests.ui.browser import CHROMIUM, require_chromium

JOB_PLUGIN_ENV = {"BDLOPT_JOB_PLUGINS": "tests.jobs.plugin_kinds", "BDLOPT_JOB_HEARTBEAT_SECONDS": "0.2"}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless system Chromium (skipped without it, a failure when CI=true)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """A server in local mode (no key) with the test job kind; yields its base URL."""
    data = tmp_path_factory.mktemp("ui")
    with live_server(f"sqlite:///{data / 'ui.db'}", extra_env={**JOB_PLUGIN_ENV, "BDLOPT_DATA_DIR": str(data)}) as url:
        yield url


@pytest.fixture(scope="module")
def api(server) -> Iterator[httpx.Client]:
    """An HTTP client of that server."""
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client
