"""``bdlopt studies list | show | export | import`` and ``bdlopt --version`` on a SQLite study database."""

from __future__ import annotations

import json

import pytest

from service.cli import main
from service.db import Database
from service.db.migrate import upgrade
from service.studies import catalog, observe, suggest
from service.studies.spec import StudySpec
from tests.workflow.conftest import SPACE


@pytest.fixture
def database_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    database = Database(url)
    upgrade(database)
    spec = StudySpec.model_validate({"name": "cli-study", "parameters": SPACE, "objectives": [{"name": "loss"}],
                                     "surrogate": "random", "seed": 1})
    study = catalog.create_study(database, spec)
    for value in (3.0, 1.5):
        (trial,) = suggest.suggest(database, study.id)
        observe.observe(database, study.id, trial_id=trial.id, values={"loss": value})
    database.dispose()
    return url


def test_list_show_export_import(database_url, tmp_path, capsys):
    assert main(["studies", "list", "--database-url", database_url]) == 0
    listing = capsys.readouterr().out
    assert "cli-study" in listing and "        2        0       0" in listing
    assert main(["studies", "show", "cli-study", "--database-url", database_url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["best"]["values"] == {"loss": 1.5} and shown["trial_counts"]["completed"] == 2
    path = tmp_path / "out.json"
    assert main(["studies", "export", shown["id"], "--output", str(path), "--database-url", database_url]) == 0
    assert json.loads(path.read_text())["study"]["name"] == "cli-study"
    with pytest.raises(SystemExit, match="already exists"):
        main(["studies", "import", str(path), "--database-url", database_url])
    assert main(["studies", "import", str(path), "--name", "copy", "--database-url", database_url]) == 0
    assert "imported study 'copy'" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no study with id or name 'nope'"):
        main(["studies", "show", "nope", "--database-url", database_url])


def test_version_names_both_distributions(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("bdlopt 0.1.0") and "bdlopt-client 0.1.0" in out
