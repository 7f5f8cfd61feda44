"""Migrations: head matches the models, and databases of the first release upgrade cleanly."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from service.db import Base, Database
from service.db.migrate import current_revision, upgrade

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "release_0001.db"


def test_models_and_migrations_agree(database):
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], diff


def test_first_release_sqlite_database_upgrades_to_head(tmp_path):
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
        studies_before = connection.execute("SELECT count(*) FROM studies").fetchone()[0]
        trials_before = connection.execute("SELECT count(*) FROM trials").fetchone()[0]
    assert studies_before >= 1 and trials_before >= 1
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    assert current_revision(database) == _head()
    with database.engine.connect() as connection:
        owners = connection.execute(text("SELECT DISTINCT owner FROM studies")).scalars().all()
        assert owners == ["local"]
        assert connection.execute(text("SELECT count(*) FROM trials")).scalar() == trials_before
    database.dispose()


def test_first_release_schema_upgrades_on_postgres(fresh_postgres_url):
    database = Database(fresh_postgres_url)
    upgrade(database, "0001")
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO studies (id, name, parameters, objectives, surrogate, surrogate_options, initial_design_size,"
            " seed, lease_seconds, next_trial_number, created_at) VALUES ('s1', 'old', '[]', '[]', 'gp', '{}', 5, 1,"
            " 3600, 1, now())"
        ))
        connection.execute(text(
            "INSERT INTO trials (id, study_id, number, params, state, source, created_at)"
            " VALUES ('t1', 's1', 0, '{}', 'pending', 'suggested', now())"
        ))
    upgrade(database)
    assert current_revision(database) == _head()
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT owner FROM studies WHERE id = 's1'")).scalar() == "local"
        assert connection.execute(text("SELECT count(*) FROM trials")).scalar() == 1
    database.dispose()


def _head() -> str:
    from alembic.script import ScriptDirectory

    from service.db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
