"""With API keys the dashboard shows each principal exactly what the API lets it see."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from service.auth.keys import create_key
from service.db import Database
from service.db.migrate import upgrade
from tests.live_server import live_server
from tests.ui.browser import open_page
from tests.ui.seed import create_study


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    """A server where keys exist (no local mode): alice and bob each own studies."""
    data = tmp_path_factory.mktemp("ui-keys")
    url = f"sqlite:///{data / 'keys.db'}"
    database = Database(url)
    upgrade(database)
    keys = {name: create_key(database, name)[0] for name in ("alice", "bob")}
    database.dispose()
    with live_server(url, extra_env={"BDLOPT_DATA_DIR": str(data)}) as base_url:
        for name, key in keys.items():
            with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
                for index in range(2):
                    create_study(client, f"{name}-study-{index}", 3, seed=index, categorical=False)
        yield base_url, keys


def _study_names(page) -> list[str]:
    page.wait_for_selector("#studies tbody tr")
    return page.locator("#studies tbody tr td:first-child").all_inner_texts()


def test_each_key_sees_only_its_principals_studies(browser, keyed_server):
    base_url, keys = keyed_server
    for name, other in (("alice", "bob"), ("bob", "alice")):
        page, watch = open_page(browser, base_url, "/ui", api_key=keys[name])
        names = _study_names(page)
        assert sorted(names) == [f"{name}-study-0", f"{name}-study-1"]
        assert not any(other in text for text in page.locator("main").all_inner_texts())
        watch.assert_clean()
        page.context.close()


def test_another_principals_study_page_shows_nothing_of_it(browser, keyed_server):
    base_url, keys = keyed_server
    alice = httpx.get(f"{base_url}/v1/studies", headers={"Authorization": f"Bearer {keys['alice']}"}).json()["items"]
    page, _ = open_page(browser, base_url, f"/ui/studies/{alice[0]['id']}", api_key=keys["bob"])
    page.wait_for_function("() => document.getElementById('banner').textContent.includes('not found')")
    assert "alice" not in page.locator("main").inner_text()
    assert page.locator("#trials tbody tr").count() == 0
    page.context.close()


def test_a_key_entered_in_the_page_is_kept_in_the_session_only(browser, keyed_server):
    base_url, keys = keyed_server
    page, _ = open_page(browser, base_url, "/ui")
    page.wait_for_function("() => document.getElementById('banner').textContent.includes('API key')")
    page.fill("#api-key", keys["alice"])
    page.click("#use-key")
    assert sorted(_study_names(page)) == ["alice-study-0", "alice-study-1"]
    assert page.evaluate("() => sessionStorage.getItem('bdlopt.apiKey')") == keys["alice"]
    assert page.evaluate("() => localStorage.length") == 0 and keys["alice"] not in page.url
    page.context.close()
