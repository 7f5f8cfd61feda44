"""API keys (hashed, revocable), local mode and the refusal to serve publicly without a key."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.api.app import create_app
from service.auth.keys import create_key, list_keys, revoke_key, verify_key
from service.cli import main
from service.config import Settings
from service.db.auth_models import ApiKeyRecord
from service.sdk import AuthenticationError, Client, NotFoundError

STUDY = {"name": "s", "parameters": [{"name": "x", "type": "float", "low": 0, "high": 1}], "objectives": [{"name": "f"}],
         "surrogate": "random"}


def test_keys_are_stored_hashed_and_can_be_revoked(sqlite_database):
    key, info = create_key(sqlite_database, "alice", admin=True)
    with sqlite_database.read() as session:
        stored = session.scalars(select(ApiKeyRecord)).one()
        digest, prefix = stored.digest, stored.prefix
    assert key not in (digest, prefix) and key.split("_", 2)[2] not in digest
    assert digest == hashlib.sha256(key.encode()).hexdigest()
    principal = verify_key(sqlite_database, key)
    assert principal is not None and principal.name == "alice" and principal.is_admin
    assert verify_key(sqlite_database, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert verify_key(sqlite_database, "not-a-key") is None
    revoke_key(sqlite_database, info.prefix)
    assert verify_key(sqlite_database, key) is None
    assert list_keys(sqlite_database)[0].revoked_at is not None


def _app(database, tmp_path, loopback=True):
    return create_app(Settings(data_dir=tmp_path, migrate_on_startup=False), database=database, loopback=loopback)


def test_local_mode_only_on_loopback_and_only_without_keys(sqlite_database, tmp_path):
    with TestClient(_app(sqlite_database, tmp_path), raise_server_exceptions=False) as client:
        created = client.post("/v1/studies", json=STUDY)
        assert created.status_code == 201  # local mode: no key needed
        key, _ = create_key(sqlite_database, "alice")
        client.app.state.key_count_cache = None  # keys exist from now on
        response = client.get("/v1/studies")
        assert response.status_code == 401 and "API key is required" in response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"
        mine = client.get("/v1/studies", headers={"Authorization": f"Bearer {key}"}).json()
        assert mine["total"] == 0  # the local principal's study is not alice's
    revoke_key(sqlite_database, key.split("_")[1])
    with TestClient(_app(sqlite_database, tmp_path, loopback=False), raise_server_exceptions=False) as client:
        assert client.post("/v1/studies", json=STUDY).status_code == 401  # no local mode off loopback


def test_sdk_carries_the_key_and_types_auth_errors(sqlite_database, tmp_path, monkeypatch):
    key, _ = create_key(sqlite_database, "alice")
    other, _ = create_key(sqlite_database, "bob")
    with TestClient(_app(sqlite_database, tmp_path), raise_server_exceptions=False) as http:
        alice = Client(api_key=key, http_client=http)
        study = alice.create_study("mine", STUDY["parameters"], objective="f", surrogate="random")
        with pytest.raises(AuthenticationError, match="API key"):
            Client(http_client=http).get_study(study.id)
        with pytest.raises(NotFoundError):
            Client(api_key=other, http_client=http).get_study(study.id)
        monkeypatch.setenv("BDLOPT_API_KEY", key)
        assert Client(http_client=http).get_study(study.id).name == "mine"


def test_cli_key_commands(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    assert main(["keys", "create", "--name", "carol", "--admin", "--database-url", url]) == 0
    printed = capsys.readouterr()
    key = printed.out.strip()
    assert key.startswith("bdl_") and "shown only now" in printed.err
    assert main(["keys", "list", "--database-url", url]) == 0
    listing = capsys.readouterr().out
    assert "carol" in listing and key.split("_")[1] in listing and key not in listing
    assert main(["keys", "revoke", key.split("_")[1], "--database-url", url]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["keys", "revoke", "nope", "--database-url", url]) == 1


def test_serve_refuses_a_public_address_without_a_key(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'public.db'}"
    assert main(["serve", "--host", "0.0.0.0", "--port", "1", "--database-url", url]) == 2
    message = capsys.readouterr().err
    assert "refusing to serve on 0.0.0.0" in message and "bdlopt keys create" in message
