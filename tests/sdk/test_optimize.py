"""Client.optimize: the suggest -> evaluate -> observe loop against the in-memory fake server."""

from __future__ import annotations

from typing import Any

import pytest

import service.sdk as sdk
from service.sdk import Client
from tests.sdk.conftest import SPACE
from tests.sdk.fake_server import FakeServer


def _loss(params: dict[str, Any]) -> float:
    return (params["x"] - 0.3) ** 2 + params["n"]


def _states(fake: FakeServer, study_id: str = "s1") -> list[str]:
    return [t["state"] for t in fake.trials[study_id]]


@pytest.mark.parametrize(("batch_size", "expected_counts"), [(1, [1] * 7), (3, [3, 3, 1])])
def test_optimize_calls_fn_n_trials_times(client: Client, fake: FakeServer, batch_size: int,
                                          expected_counts: list[int]) -> None:
    study = client.create_study("demo", SPACE, objective="loss")
    seen: list[dict[str, Any]] = []

    def fn(params: dict[str, Any]) -> float:
        seen.append(params)
        return _loss(params)

    best = client.optimize(fn, study, n_trials=7, batch_size=batch_size, progress=False)
    assert len(seen) == 7
    assert [r.body["count"] for r in fake.calls("POST", "/suggest")] == expected_counts
    assert _states(fake) == ["completed"] * 7
    observed = [r.body for r in fake.calls("POST", "/observe")]
    assert [b["values"] for b in observed] == [{"loss": _loss(p)} for p in seen]
    assert [b["trial_id"] for b in observed] == [t["id"] for t in fake.trials["s1"]]
    assert best.value == min(_loss(p) for p in seen)


def test_optimize_accepts_study_id_and_dict_results_for_multi_objective(client: Client, fake: FakeServer) -> None:
    client.create_study("mo", SPACE, [{"name": "a", "goal": "minimize"}, {"name": "b", "goal": "maximize"}])
    fresh = Client(http_client=fake.client())
    fresh.optimize(lambda p: {"a": p["x"], "b": float(p["n"])}, "s1", n_trials=4, batch_size=2, progress=False)
    assert _states(fake) == ["completed"] * 4
    assert all(set(t["values"]) == {"a", "b"} for t in fake.trials["s1"])


def test_optimize_maximize_returns_largest(client: Client, fake: FakeServer) -> None:
    client.create_study("demo", SPACE, objective="score", goal="maximize")
    best = client.optimize(_loss, "s1", n_trials=5, progress=False)
    assert best.value == max(t["values"]["score"] for t in fake.trials["s1"])


def test_caught_exceptions_fail_the_trial_and_continue(client: Client, fake: FakeServer) -> None:
    client.create_study("demo", SPACE, objective="loss")
    calls = []

    def flaky(params: dict[str, Any]) -> float:
        calls.append(params)
        if len(calls) % 2 == 0:
            raise ValueError(f"diverged at call {len(calls)}")
        return _loss(params)

    client.optimize(flaky, "s1", n_trials=3, batch_size=3, progress=False, catch=(ValueError,))
    assert len(calls) == 5  # failed trials do not count: 3 completed are needed
    assert _states(fake) == ["completed", "failed", "completed", "failed", "completed"]
    reasons = [r.body["reason"] for r in fake.calls("POST", "/fail")]
    assert reasons == ["ValueError: diverged at call 2", "ValueError: diverged at call 4"]


def test_single_exception_type_as_catch(client: Client, fake: FakeServer) -> None:
    client.create_study("demo", SPACE, objective="loss")

    def always_fails(params: dict[str, Any]) -> float:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):  # stops after 3 failures in a row
        client.optimize(always_fails, "s1", n_trials=10, progress=False, catch=KeyError, max_consecutive_failures=3)
    assert _states(fake) == ["failed"] * 3


def test_uncaught_exception_fails_trial_abandons_rest_of_batch_and_reraises(client: Client,
                                                                           fake: FakeServer) -> None:
    client.create_study("demo", SPACE, objective="loss")
    calls = []

    def breaks(params: dict[str, Any]) -> float:
        calls.append(params)
        if len(calls) == 2:
            raise RuntimeError("cuda out of memory")
        return _loss(params)

    with pytest.raises(RuntimeError, match="cuda out of memory"):
        client.optimize(breaks, "s1", n_trials=10, batch_size=3, progress=False, catch=(ValueError,))
    assert len(calls) == 2
    assert _states(fake) == ["completed", "failed", "abandoned"]
    assert fake.calls("POST", "/fail")[0].body == {"reason": "RuntimeError: cuda out of memory"}


def test_keyboard_interrupt_abandons_instead_of_failing(client: Client, fake: FakeServer) -> None:
    client.create_study("demo", SPACE, objective="loss")

    def interrupted(params: dict[str, Any]) -> float:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        client.optimize(interrupted, "s1", n_trials=4, batch_size=2, progress=False, catch=(Exception,))
    assert _states(fake) == ["abandoned", "abandoned"]


def test_non_finite_result_fails_the_trial(client: Client, fake: FakeServer) -> None:
    client.create_study("demo", SPACE, objective="loss")
    results = iter([1.0, float("nan"), float("inf"), 0.5])
    best = client.optimize(lambda p: next(results), "s1", n_trials=2, progress=False)
    assert _states(fake) == ["completed", "failed", "failed", "completed"]
    assert best.value == 0.5


def test_wrong_result_type_is_an_error_of_fn(client: Client, fake: FakeServer) -> None:
    client.create_study("mo", SPACE, [{"name": "a", "goal": "minimize"}, {"name": "b", "goal": "minimize"}])
    with pytest.raises(TypeError, match="dict"):
        client.optimize(lambda p: 1.0, "s1", n_trials=2, progress=False, max_consecutive_failures=2)
    assert _states(fake) == ["failed", "failed"]


def test_progress_bar_can_be_disabled(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    client.create_study("demo", SPACE, objective="loss")
    client.optimize(_loss, "s1", n_trials=3, progress=False)
    assert capsys.readouterr().err == ""
    best = client.optimize(_loss, "s1", n_trials=5, progress=True)  # resumes: 2 more
    err = capsys.readouterr().err
    assert "5/5" in err and f"best={best.value:.6g}" in err


def test_argument_validation(client: Client, fake: FakeServer) -> None:
    client.create_study("demo", SPACE, objective="loss")
    with pytest.raises(ValueError):
        client.optimize(_loss, "s1", n_trials=-1, progress=False)
    with pytest.raises(ValueError):
        client.optimize(_loss, "s1", n_trials=3, batch_size=0, progress=False)
    assert fake.calls("POST", "/suggest") == []
