"""Headless Chromium for the dashboard tests: the system's browser driven by Playwright.

Chromium comes from the system packages (``apt-get install chromium``); Playwright never downloads
a browser here (``BDLOPT_TEST_CHROMIUM`` names another binary). Without it the tests skip, except when
``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("BDLOPT_TEST_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
#: Console messages of these types fail a page.
FAILING_CONSOLE_TYPES = {"error"}


def chromium_unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package 'playwright' is not installed (pip install -e '.[test]')"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


def require_chromium() -> None:
    """Skip the test, or fail it when CI=true, if the browser cannot run."""
    reason = chromium_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires the browser tests: {reason}")
        pytest.skip(reason)


@dataclass
class PageWatch:
    """What a page did that a test forbids: console errors, uncaught exceptions, requests to other hosts."""

    base_url: str
    console_errors: list[str] = field(default_factory=list)
    off_host_requests: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        """Record on ``page`` and abort (never send) every request that is not to the server."""
        server = urlsplit(self.base_url).netloc
        page.on("console", lambda message: self.console_errors.append(f"{message.type}: {message.text}")
                if message.type in FAILING_CONSOLE_TYPES else None)
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))

        def route(route) -> None:
            url = route.request.url
            if urlsplit(url).scheme in ("blob", "data") or urlsplit(url).netloc == server:
                route.continue_()
            else:
                self.off_host_requests.append(url)
                route.abort("internetdisconnected")

        page.route("**/*", route)

    def assert_clean(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.off_host_requests == [], self.off_host_requests


def open_page(browser, base_url: str, path: str, *, api_key: str | None = None):
    """A new page (own context, so its own sessionStorage) at ``path``; returns (page, watch)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    if api_key:
        context.add_init_script(f"sessionStorage.setItem('bdlopt.apiKey', {api_key!r});")
    page = context.new_page()
    watch = PageWatch(base_url)
    watch.attach(page)
    page.goto(base_url + path)
    return page, watch
