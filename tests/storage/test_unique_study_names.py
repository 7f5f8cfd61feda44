"""Migration 0005: duplicate study names of one owner are renamed deterministically, then a name is unique."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from service.db import Database
from service.db.migrate import upgrade

INSERT_STUDY = text(
    "INSERT INTO studies (id, name, owner, parameters, objectives, surrogate, surrogate_options, initial_design_size,"
    " seed, lease_seconds, next_trial_number, created_at) VALUES (:id, :name, :owner, '[]', '[]', 'random', '{}', 5,"
    " 1, 3600, 1, :created)"
)
INSERT_TRIAL = text("INSERT INTO trials (id, study_id, number, params, state, source, created_at)"
                    " VALUES (:id, :study, 0, '{}', 'pending', 'suggested', '2026-01-01 00:00:00')")

# (id, name, owner, created_at): three 'branin' of alice, one of bob, and a study already called 'branin (2)'
ROWS = [
    ("s3", "branin", "alice", "2026-01-03 00:00:00"),
    ("s1", "branin", "alice", "2026-01-01 00:00:00"),
    ("s2", "branin", "alice", "2026-01-02 00:00:00"),
    ("s4", "branin (2)", "alice", "2026-01-04 00:00:00"),
    ("s5", "branin", "bob", "2026-01-05 00:00:00"),
]
EXPECTED = {"s1": "branin", "s2": "branin (3)", "s3": "branin (4)", "s4": "branin (2)", "s5": "branin"}


def _upgrade_with_duplicates(database: Database) -> dict[str, str]:
    upgrade(database, "0003")
    with database.engine.begin() as connection:
        for study_id, name, owner, created in ROWS:
            connection.execute(INSERT_STUDY, {"id": study_id, "name": name, "owner": owner, "created": created})
            connection.execute(INSERT_TRIAL, {"id": f"t-{study_id}", "study": study_id})
    upgrade(database, "0005")
    with database.engine.connect() as connection:
        names = dict(connection.execute(text("SELECT id, name FROM studies")).all())
        assert connection.execute(text("SELECT count(*) FROM trials")).scalar() == len(ROWS)  # nothing lost
    with pytest.raises(IntegrityError), database.engine.begin() as connection:
        connection.execute(INSERT_STUDY, {"id": "s6", "name": "branin", "owner": "alice",
                                          "created": "2026-01-06 00:00:00"})
    return names


def test_duplicate_names_renamed_on_sqlite(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'dups.db'}")
    assert _upgrade_with_duplicates(database) == EXPECTED
    database.dispose()


@pytest.mark.postgres
def test_duplicate_names_renamed_on_postgres(fresh_postgres_url):
    database = Database(fresh_postgres_url)
    assert _upgrade_with_duplicates(database) == EXPECTED
    database.dispose()
