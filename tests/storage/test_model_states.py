"""Surrogate state and the study version on every back end, and the 0003 -> head upgrade."""

from __future__ import annotations

import torch
from sqlalchemy import text

from service.db import Database
from service.db.migrate import upgrade
from service.db.models import StudyRecord
from service.optimizers import SurrogateState
from service.studies import catalog, lifecycle, observe, suggest
from service.studies.model_states import load_model_state, save_model_state, stored_states
from tests.storage.test_storage_contract import make_spec


def _version(database: Database, study_id: str) -> int:
    with database.read() as session:
        return session.get(StudyRecord, study_id).version


def test_state_round_trips_and_goes_with_its_study(database):
    study = catalog.create_study(database, make_spec(surrogate="gp", seed=3))
    state = SurrogateState(kind="k", tensors={"a": torch.arange(6, dtype=torch.float64).reshape(2, 3)},
                           fingerprint="f" * 32, n_fitted=4, meta={"note": "x"})
    with database.write() as session:
        save_model_state(session, study.id, "gp", state, data_version=5)
    with database.read() as session:
        loaded = load_model_state(session, study.id, "gp")
        assert stored_states(session, study.id) == [("gp", "f" * 32, 5)]
    assert loaded.kind == "k" and loaded.n_fitted == 4 and loaded.meta == {"note": "x"}
    assert loaded.token == state.token and torch.equal(loaded.tensors["a"], state.tensors["a"])
    catalog.delete_study(database, study.id)
    with database.read() as session:
        assert load_model_state(session, study.id, "gp") is None


def test_every_change_to_the_trials_bumps_the_version(database):
    study = catalog.create_study(database, make_spec(seed=1))
    versions = [_version(database, study.id)]
    first, second, third = suggest.suggest(database, study.id, count=3)
    versions.append(_version(database, study.id))
    observe.observe(database, study.id, trial_id=first.id, values={"loss": 1.0})
    versions.append(_version(database, study.id))
    lifecycle.fail(database, study.id, second.id)
    versions.append(_version(database, study.id))
    lifecycle.abandon(database, study.id, third.id)
    versions.append(_version(database, study.id))
    observe.observe(database, study.id, params={"x": 0.5, "n": 2, "c": "a"}, values={"loss": 0.5})
    versions.append(_version(database, study.id))
    assert all(b > a for a, b in zip(versions, versions[1:])), versions


def test_a_model_suggest_stores_the_fitted_state(database):
    study = catalog.create_study(database, make_spec(surrogate="gp", seed=2, initial_design_size=2))
    for x, loss in ((0.0, 1.0), (1.5, 0.2), (-0.5, 0.7)):
        observe.observe(database, study.id, params={"x": x, "n": 2, "c": "b"}, values={"loss": loss})
    [trial] = suggest.suggest(database, study.id)
    assert trial.policy == "gp"
    with database.read() as session:
        [(surrogate, fingerprint, data_version)] = stored_states(session, study.id)
    assert surrogate == "gp" and len(fingerprint) == 32 and data_version == 3


def test_release_0003_database_upgrades_with_version_zero(fresh_postgres_url, tmp_path):
    for url in (f"sqlite:///{tmp_path / 'old.db'}", fresh_postgres_url):
        database = Database(url)
        upgrade(database, "0003")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO studies (id, name, owner, parameters, objectives, surrogate, surrogate_options,"
                " initial_design_size, seed, lease_seconds, next_trial_number, created_at) VALUES ('s1', 'old',"
                " 'local', '[]', '[]', 'gp', '{}', 5, 1, 3600, 0, CURRENT_TIMESTAMP)"
            ))
        upgrade(database)
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT version FROM studies WHERE id = 's1'")).scalar() == 0
            assert connection.execute(text("SELECT count(*) FROM model_states")).scalar() == 0
        database.dispose()
