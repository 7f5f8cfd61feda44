"""Shared fixtures: one storage suite on every database back end.

The PostgreSQL variant needs the server at BDLOPT_TEST_POSTGRES_URL (default: the local one with
trust auth). When ``CI=true`` it is required: an unreachable server fails the run. Elsewhere the
variant is skipped with the reason printed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import torch
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.api.app import create_app
from service.compute_threads import limit_compute_threads
from service.config import Settings
from service.db import Base, Database
from service.db.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "BDLOPT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("BDLOPT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# The suite runs on 2-core machines, partly with a server subprocess beside it: one intra-op
# thread per process (torch's and the BLAS pools) avoids oversubscription, which slows small
# factorisations and scipy's L-BFGS-B by orders of magnitude.
limit_compute_threads(1)


def _postgres_unavailable_reason() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # noqa: BLE001
        return f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {error.__class__.__name__}: {error}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of a reachable PostgreSQL server (skip, or fail when CI=true, otherwise)."""
    reason = _postgres_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    yield POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of a reachable Redis database (skip, or fail when CI=true, otherwise).

    Tests that write keys keep them apart by a unique name (queue prefix, principal).
    """
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as error:
        if IN_CI:
            pytest.fail(f"CI=true requires Redis at {REDIS_URL}: {error}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {error}")
    return REDIS_URL


def _create_database(admin_url: str) -> str:
    name = f"bdlopt_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"),
            {"n": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> Iterator[str]:
    """A PostgreSQL database shared by this test session (dropped at the end)."""
    url = _create_database(postgres_server)
    yield url
    _drop_database(postgres_server, url)


@pytest.fixture
def fresh_postgres_url(postgres_server) -> Iterator[str]:
    """An empty PostgreSQL database of its own (for tests that run the server's migrations)."""
    url = _create_database(postgres_server)
    yield url
    _drop_database(postgres_server, url)


def _sqlite_database(tmp_path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'studies.db'}")


def _postgres_database(url: str) -> Database:
    database = Database(url)
    upgrade(database)
    with database.engine.begin() as connection:
        tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
        connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    return database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path) -> Iterator[Database]:
    """A migrated, empty study database on each back end."""
    if request.param == "sqlite":
        db = _sqlite_database(tmp_path)
        upgrade(db)
    else:
        db = _postgres_database(request.getfixturevalue("postgres_url"))
    yield db
    db.dispose()


@pytest.fixture
def sqlite_database(tmp_path) -> Iterator[Database]:
    """A migrated, empty SQLite study database."""
    db = _sqlite_database(tmp_path)
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def client(sqlite_database: Database, tmp_path) -> Iterator[TestClient]:
    """A TestClient on a fresh SQLite database (server errors are returned, not raised)."""
    app = create_app(Settings(data_dir=tmp_path, migrate_on_startup=False), database=sqlite_database)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def any_client(database: Database, tmp_path) -> Iterator[TestClient]:
    """A TestClient on each database back end."""
    app = create_app(Settings(data_dir=tmp_path, migrate_on_startup=False), database=database)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def _sdk_journal_in_tmp(monkeypatch, tmp_path_factory) -> None:
    """``Client.optimize`` journals results under the user's cache directory by default: not in tests."""
    monkeypatch.setenv("BDLOPT_JOURNAL_DIR", str(tmp_path_factory.mktemp("journal")))
