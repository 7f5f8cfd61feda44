"""The SDK's ``fn(params, trial)``: reports, TrialStopped, should_stop, and what optimize records."""

from __future__ import annotations

import pytest

from service.sdk import Client, TrialStopped
from service.sdk.trial_handle import accepts_trial

SPACE = [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}]


@pytest.fixture
def sdk(client):
    return Client(http_client=client)


def _study(sdk, policy="median"):
    return sdk.create_study("curves", SPACE, objective="loss", surrogate="random", seed=4,
                            early_stopping={"policy": policy, "min_steps": 1, "min_trials": 2})


def test_stopped_trials_are_recorded_not_failed(sdk):
    study = _study(sdk)
    stops: list[int] = []

    def train(params, trial):
        loss = 0.0
        for epoch in range(6):
            loss = params["x"] + 1.0 / (epoch + 1)
            try:
                trial.report(epoch, loss)
            except TrialStopped as stop:
                stops.append(stop.step)
                raise
        return loss

    best = sdk.optimize(train, study, n_trials=10, progress=False)
    trials = sdk.trials(study)
    states = [t.state for t in trials]
    assert states.count("early_stopped") == len(stops) >= 1
    assert "failed" not in states and "pending" not in states
    stopped = [t for t in trials if t.state == "early_stopped"]
    for trial, step in zip(stopped, stops):
        assert trial.intermediate_values[-1]["step"] == step
        assert trial.values == trial.intermediate_values[-1]["values"]
    assert best.state == "completed"
    assert best.values["loss"] == min(t.values["loss"] for t in trials if t.state == "completed")
    assert sdk.get_study(study).trial_counts["early_stopped"] == len(stops)


def test_should_stop_without_raising_and_a_user_stop(sdk):
    study = _study(sdk)
    sdk.optimize(lambda p: p["x"] + 1.0, study, n_trials=1, progress=False)  # one-argument functions still work

    def reference(params, handle):
        for epoch in range(6):
            handle.report(epoch, params["x"] / (epoch + 1))
        return params["x"] / 6

    sdk.optimize(reference, study, n_trials=3, progress=False)  # n_trials counts the study's evaluations
    worst_curve_steps = []

    def polled(params, handle):
        for epoch in range(6):
            handle.report(epoch, 50.0 - epoch, raise_stopped=False)
            worst_curve_steps.append(epoch)
            if handle.should_stop():
                return 0.0  # ignored: the trial is already early-stopped
        return 1.0

    sdk.optimize(polled, study, n_trials=4, progress=False)
    assert worst_curve_steps == [0, 1]
    assert [t.state for t in sdk.trials(study)][-1] == "early_stopped"

    def gives_up(params, handle):
        raise TrialStopped("my own rule")

    sdk.optimize(gives_up, study, n_trials=5, progress=False)
    assert [t.state for t in sdk.trials(study)][-1] == "abandoned"


def test_accepts_trial_reads_the_signature():
    assert not accepts_trial(lambda params: 0.0)
    assert accepts_trial(lambda params, trial: 0.0)
    assert accepts_trial(lambda *args: 0.0)
    assert not accepts_trial(abs)
