"""Export then import gives an equal record; the CSV has one column per parameter and objective."""

from __future__ import annotations

import json

import pandas
import pytest

from service.sdk import ConflictError
from tests.workflow.conftest import SPACE, loss


def _filled_study(sdk):
    study = sdk.create_study("exported", SPACE, objective="loss", surrogate="random", seed=3)
    sdk.optimize(loss, study, n_trials=4, progress=False)
    a, b, c = sdk.suggest(study, count=3)
    sdk.fail(study, a, reason="OOM")
    sdk.abandon(study, b)  # c stays pending
    sdk.observe(study, params={"x": 0.5, "n": 2, "act": "tanh"}, values=1.25, noise_sd=0.1)
    return study


def test_export_import_round_trip_is_an_equal_record(sdk, tmp_path):
    study = _filled_study(sdk)
    path = sdk.export(study, tmp_path / "study.json")
    document = json.loads(path.read_text())
    assert document["format"] == "bdlopt.study" and document["version"] == 1
    assert [t["state"] for t in document["trials"]].count("completed") == 5
    with pytest.raises(ConflictError, match="exported"):  # names are unique per owner
        sdk.import_study(path)
    copy = sdk.import_study(path, name="copy")
    assert copy.id != study.id and copy.trial_counts == sdk.get_study(study).trial_counts
    again = sdk.export_study(copy)
    assert again["study"].pop("name") == "copy" and document["study"].pop("name") == "exported"
    assert again == document
    trial = sdk.suggest(copy)[0]  # the imported study goes on numbering after its last trial
    assert trial.number == len(document["trials"])


def test_import_rejects_a_bad_document_naming_the_field_and_writes_nothing(client, sdk, tmp_path):
    document = sdk.export_study(_filled_study(sdk))
    document["trials"][2]["state"] = "done"
    response = client.post("/v1/studies/import", params={"name": "bad"}, json=document)
    assert response.status_code == 422 and "trials[2].state" in response.json()["detail"]
    document["trials"][2]["state"] = "completed"
    document["study"]["parameters"][0]["low"] = 20.0
    response = client.post("/v1/studies/import", params={"name": "bad"}, json=document)
    assert response.status_code == 422 and "study.parameters" in response.json()["detail"]
    assert client.get("/v1/studies", params={"name": "bad"}).json()["total"] == 0
    assert client.post("/v1/studies/import", json={**document, "version": 2}).status_code == 422


def test_csv_and_dataframe_have_one_column_per_parameter_and_objective(sdk):
    study = _filled_study(sdk)
    frame = sdk.trials_dataframe(study)
    assert isinstance(frame, pandas.DataFrame) and len(frame) == 8
    assert {"params_x", "params_n", "params_act", "values_loss", "state", "number"} <= set(frame.columns)
    done = frame[frame.state == "completed"]
    assert list(done.values_loss) == [t.value for t in sdk.trials(study, state="completed")]
    assert frame.values_loss[frame.state != "completed"].isna().all()
    assert frame.params_n.dtype.kind == "i" and set(frame.params_act) <= {"relu", "tanh"}


def test_multi_objective_constrained_conditional_study_round_trips(sdk):
    space = [{"name": "model", "type": "categorical", "choices": ["svm", "tree"]},
             {"name": "C", "type": "float", "low": 0.1, "high": 1.0, "when": {"parent": "model", "values": ["svm"]}},
             {"name": "depth", "type": "int", "low": 1, "high": 6, "when": {"parent": "model", "values": ["tree"]}},
             {"name": "w", "type": "float", "low": 0.0, "high": 1.0}]
    study = sdk.create_study("mo-cond", space, objectives=[{"name": "error"}, {"name": "cost", "threshold": 3.0}],
                             surrogate="random", seed=1, outcome_constraints=["memory <= 0.5"],
                             parameter_constraints=["w <= 0.8"])
    for trial in sdk.suggest(study, count=5):
        p = trial.params
        sdk.observe(study, trial, {"error": p["w"], "cost": 1 - p["w"], "memory": p.get("C", 0.1)})
    document = sdk.export_study(study)
    assert document["study"]["outcome_constraints"] == [{"metric": "memory", "op": "<=", "bound": 0.5}]
    copy = sdk.import_study(document, name="mo-cond-copy")
    again = sdk.export_study(copy)
    assert again["study"].pop("name") == "mo-cond-copy" and document["study"].pop("name") == "mo-cond"
    assert again == document
    assert [t.id for t in sdk.pareto(copy)] and len(sdk.pareto(copy)) == len(sdk.pareto(study))
