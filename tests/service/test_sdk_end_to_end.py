"""The SDK against the real app (in process): the whole loop and the typed errors."""

from __future__ import annotations

import pytest

from service.sdk import Client, ConflictError, NotFoundError, ValidationError


@pytest.fixture
def sdk(client):
    return Client(http_client=client)


def test_optimize_loop_finds_the_minimum_region(sdk):
    space = [{"name": "x", "type": "float", "low": -3.0, "high": 3.0}, {"name": "y", "type": "float", "low": -3.0, "high": 3.0}]
    study = sdk.create_study("bowl", space, objective="f", goal="minimize", seed=4, initial_design_size=6)
    best = sdk.optimize(lambda p: (p["x"] - 1.0) ** 2 + (p["y"] + 0.5) ** 2, study, n_trials=16, batch_size=2,
                        progress=False)
    assert best.values["f"] < 0.1
    trials = sdk.trials(study.id)
    assert len(trials) == 16 and all(t.state == "completed" for t in trials)
    prediction = sdk.predict(study.id, [{"x": 1.0, "y": -0.5}])
    assert prediction.mean[0] < 0.5


def test_errors_are_typed_and_carry_the_server_message(sdk):
    with pytest.raises(NotFoundError, match="not found"):
        sdk.get_study("missing")
    with pytest.raises(ValidationError, match="greater than low"):
        sdk.create_study("bad", [{"name": "x", "type": "float", "low": 1.0, "high": 0.0}], objective="f")
    study = sdk.create_study("ok", [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}], objective="f",
                             surrogate="random")
    (trial,) = sdk.suggest(study.id)
    sdk.observe(study.id, trial.id, 0.5)
    with pytest.raises(ConflictError, match="already completed"):
        sdk.observe(study.id, trial.id, 0.7)
