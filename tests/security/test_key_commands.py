"""The ``bdlopt keys`` commands: quiet human output (JSON on request), revocation by the whole key,
``bdl_<prefix>``, the prefix or the id, and handing local-mode data to the first key's principal."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.auth.keys import create_key, list_keys, verify_key
from service.cli import main
from service.config import Settings
from service.db import Database

STUDY = {"name": "s", "parameters": [{"name": "x", "type": "float", "low": 0, "high": 1}], "objectives": [{"name": "f"}],
         "surrogate": "random"}


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'keys.db'}"


def _create(url: str, capsys, *args: str) -> tuple[str, str]:
    assert main(["keys", "create", *args, "--database-url", url]) == 0
    printed = capsys.readouterr()
    return printed.out, printed.err


def test_create_prints_only_the_key_and_a_short_note(url, capsys):
    """Run as a process, so that the logging set-up of the command itself is what is checked."""
    created = subprocess.run([sys.executable, "-m", "service.cli", "keys", "create", "--name", "carol",
                              "--database-url", url], capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    out, err = created.stdout, created.stderr
    assert out.strip().startswith("bdl_") and out.count("\n") == 1  # KEY=$(bdlopt keys create ...)
    assert "shown only now" in err and "first key" in err
    assert "alembic" not in (out + err).lower() and "INFO" not in err  # no migration chatter
    assert len(err.strip().splitlines()) == 2
    _, second = _create(url, capsys, "--name", "dave")
    assert "first key" not in second


def test_json_output_on_request(url, capsys):
    out, _ = _create(url, capsys, "--name", "erin", "--admin", "--json")
    created = json.loads(out)
    assert created["key"].startswith(f"bdl_{created['prefix']}_") and created["admin"] is True
    assert main(["keys", "list", "--json", "--database-url", url]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["prefix"] for k in listed] == [created["prefix"]] and "key" not in listed[0]


@pytest.mark.parametrize("form", ["whole key", "bdl_prefix", "prefix", "id"])
def test_revoke_accepts_the_key_its_prefix_or_its_id(url, capsys, form):
    out, _ = _create(url, capsys, "--name", "frank", "--json")
    created = json.loads(out)
    reference = {"whole key": created["key"], "bdl_prefix": f"bdl_{created['prefix']}",
                 "prefix": created["prefix"], "id": created["id"]}[form]
    assert main(["keys", "revoke", reference, "--database-url", url]) == 0
    assert f"revoked key {created['prefix']}" in capsys.readouterr().out
    database = Database(url)
    assert verify_key(database, created["key"]) is None and list_keys(database)[0].revoked_at is not None
    database.dispose()


def test_revoke_refuses_unknown_keys_and_wrong_secrets(url, capsys):
    out, _ = _create(url, capsys, "--name", "gina", "--json")
    created = json.loads(out)
    assert main(["keys", "revoke", "nope", "--database-url", url]) == 1
    forged = f"bdl_{created['prefix']}_not-the-secret"
    assert main(["keys", "revoke", forged, "--database-url", url]) == 1
    assert "no such key" in capsys.readouterr().err
    database = Database(url)
    assert verify_key(database, created["key"]) is not None  # still valid
    database.dispose()


def _local_study(database: Database, tmp_path, name: str = "s") -> str:
    app = create_app(Settings(data_dir=tmp_path, migrate_on_startup=False), database=database)
    with TestClient(app) as client:
        return client.post("/v1/studies", json={**STUDY, "name": name}).json()["id"]


def _visible_to(database: Database, tmp_path, key: str) -> int:
    app = create_app(Settings(data_dir=tmp_path, migrate_on_startup=False), database=database)
    with TestClient(app) as client:
        return client.get("/v1/studies", headers={"Authorization": f"Bearer {key}"}).json()["total"]


def test_the_first_key_says_local_data_exists_and_adopt_local_hands_it_over(sqlite_database, tmp_path, capsys):
    url = sqlite_database.url.render_as_string(hide_password=False)
    _local_study(sqlite_database, tmp_path)
    out, err = _create(url, capsys, "--name", "alice")
    assert "1 study, 0 datasets and 0 jobs" in err and "bdlopt keys adopt-local --to alice" in err
    assert _visible_to(sqlite_database, tmp_path, out.strip()) == 0
    assert main(["keys", "adopt-local", "--to", "alice", "--database-url", url]) == 0
    assert "'alice' now owns 1 study" in capsys.readouterr().out
    assert _visible_to(sqlite_database, tmp_path, out.strip()) == 1


def test_create_with_adopt_local(sqlite_database, tmp_path, capsys):
    url = sqlite_database.url.render_as_string(hide_password=False)
    _local_study(sqlite_database, tmp_path)
    _local_study(sqlite_database, tmp_path, name="s2")  # study names are unique per owner
    out, err = _create(url, capsys, "--name", "bob", "--adopt-local")
    assert "'bob' now owns what local mode created: 2 studies" in err
    assert _visible_to(sqlite_database, tmp_path, out.strip()) == 2
    other, _ = create_key(sqlite_database, "mallory")
    assert _visible_to(sqlite_database, tmp_path, other) == 0


def test_serve_prints_its_url_and_docs_url_in_plain_words(tmp_path, capsys, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    assert main(["serve", "--port", "8123", "--database-url", f"sqlite:///{tmp_path / 'run.db'}"]) == 0
    err = capsys.readouterr().err
    assert "bdlopt serves on http://127.0.0.1:8123; API documentation: http://127.0.0.1:8123/docs" in err
