"""A study with surrogate "lla" through the SDK and the real app: the whole suggest/observe loop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import Settings
from service.optimizers import register_surrogate, surrogate_entry
from service.optimizers.acquisition import AcquisitionOptions
from service.optimizers.lla import LLASurrogate
from service.optimizers.lla_options import LLAOptions
from service.sdk import Client


@pytest.fixture
def small_lla_policy() -> Iterator[None]:
    """Serve "lla" with a small acquisition budget (test speed), then restore the registration."""
    original = surrogate_entry("lla")

    class SmallBudgetLLA(LLASurrogate):
        def acquisition_options(self) -> AcquisitionOptions:
            return AcquisitionOptions(num_restarts=2, raw_samples=64, maxiter=30, mc_samples=64)

    register_surrogate("lla", SmallBudgetLLA, options_model=LLAOptions)
    try:
        yield
    finally:
        register_surrogate("lla", original.factory, options_model=original.options_model,
                           description=original.description)


def test_thirty_trial_loop_with_the_lla_surrogate(sqlite_database, small_lla_policy) -> None:
    app = create_app(Settings(migrate_on_startup=False), database=sqlite_database)
    with TestClient(app) as http:
        sdk = Client(http_client=http)
        space = [{"name": "x", "type": "float", "low": -2.0, "high": 2.0},
                 {"name": "k", "type": "int", "low": 0, "high": 8},
                 {"name": "c", "type": "categorical", "choices": ["red", "green", "blue"]}]
        study = sdk.create_study("lla-loop", space, objective="f", goal="minimize", surrogate="lla", seed=3,
                                 initial_design_size=8, surrogate_options={"width": 16, "epochs": 300})

        def objective(p: dict) -> float:
            return (p["x"] - 0.5) ** 2 + 0.1 * (p["k"] - 3) ** 2 + (0.0 if p["c"] == "green" else 1.0)

        best = sdk.optimize(objective, study, n_trials=30, batch_size=2, progress=False)
        trials = sdk.trials(study.id)
        assert len(trials) == 30 and all(t.state == "completed" for t in trials)
        policies = {t.policy for t in trials}
        assert "lla" in policies and not any("fallback" in p for p in policies), policies
        assert best.values["f"] < 0.6
        prediction = sdk.predict(study.id, [{"x": 0.5, "k": 3, "c": "green"}, {"x": -2.0, "k": 8, "c": "red"}])
        assert prediction.mean[0] < prediction.mean[1]
        assert all(s > 0 for s in prediction.sd)
