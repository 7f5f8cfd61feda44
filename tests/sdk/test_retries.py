"""Retry policy: never-sent requests are retried for every call; calls safe to repeat (GET, DELETE, heartbeat,
observe/fail/abandon of a trial id, suggest with a client id) also after ambiguous failures and 502/503/504;
every call retries 429; other POSTs that may have been applied are never sent twice; retries end at a deadline."""

from __future__ import annotations

import builtins
from collections.abc import Callable

import httpx
import pytest

import service.sdk as sdk
from service.sdk import Client, RetryPolicy

STUDY = {"id": "s1", "name": "demo", "parameters": [], "objectives": [{"name": "loss", "goal": "minimize"}]}
TRIAL = {"id": "t1", "study_id": "s1", "number": 0, "params": {"x": 0.5}, "state": "completed",
         "values": {"loss": 1.0}}


class ScriptedHandler:
    """Answers request k with ``script[k]`` (an exception class to raise, or a Response); counts calls."""

    def __init__(self, *script: type[Exception] | httpx.Response) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        if isinstance(step, type):
            raise step("scripted failure", request=request)
        return step


def _client(handler: ScriptedHandler, retries: int = 3) -> Client:
    return Client(http_client=httpx.Client(transport=httpx.MockTransport(handler), base_url="http://fake"),
                  retries=retries)


def _ok(body: object = STUDY) -> httpx.Response:
    return httpx.Response(200, json=body)


def test_get_retried_on_connect_error_then_succeeds(sleeps: list[float]) -> None:
    handler = ScriptedHandler(httpx.ConnectError, httpx.ConnectError, _ok())
    study = _client(handler).get_study("s1")
    assert study.id == "s1"
    assert len(handler.requests) == 3
    assert sleeps == [0.5, 1.0]  # exponential backoff 0.5 * 2**attempt


def test_get_gives_up_after_retries(sleeps: list[float]) -> None:
    handler = ScriptedHandler(httpx.ConnectError)
    with pytest.raises(sdk.BdloptConnectionError) as info:
        _client(handler, retries=2).get_study("s1")
    assert len(handler.requests) == 3
    assert sleeps == [0.5, 1.0]
    assert isinstance(info.value, builtins.ConnectionError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "after 2 retries" in str(info.value)


@pytest.mark.parametrize(("name", "call", "error"), [
    ("delete", lambda c: c.delete_study("s1"), httpx.ConnectTimeout),
    ("heartbeat", lambda c: c.heartbeat("s1", "t1"), httpx.RemoteProtocolError),
    ("trials", lambda c: c.list_trials("s1"), httpx.ConnectError),
    ("best", lambda c: c.best("s1"), httpx.RemoteProtocolError),
])
def test_idempotent_calls_retry_connection_failures(name: str, call: Callable[[Client], object],
                                                    error: type[Exception], sleeps: list[float]) -> None:
    body = {"items": [], "total": 0, "limit": 100, "offset": 0} if name == "trials" else TRIAL
    success = httpx.Response(204) if name == "delete" else _ok(body)
    handler = ScriptedHandler(error, success)
    call(_client(handler))
    assert len(handler.requests) == 2
    assert sleeps == [0.5]


NON_IDEMPOTENT_POSTS = [
    ("suggest", lambda c: c.suggest("s1", count=2)),
    ("create", lambda c: c.create_study("demo", [], objective="loss")),
    ("external observe", lambda c: c.observe("s1", params={"x": 0.5}, values={"loss": 1.0})),
]
IDEMPOTENT_POSTS = [
    ("observe", lambda c: c.observe("s1", "t1", {"loss": 1.0})),
    ("fail", lambda c: c.fail("s1", "t1", reason="boom")),
    ("abandon", lambda c: c.abandon("s1", "t1")),
    ("suggest with client id", lambda c: c.suggest("s1", count=2, client_id="w1")),
    ("create or load", lambda c: c.create_study("demo", [], objective="loss", load_if_exists=True)),
]


def _success_for(name: str) -> httpx.Response:
    if name.startswith("suggest"):
        return _ok({"trials": [TRIAL]})
    return httpx.Response(201, json=STUDY) if name.startswith("create") else _ok(TRIAL)


@pytest.mark.parametrize(("name", "call"), NON_IDEMPOTENT_POSTS + IDEMPOTENT_POSTS)
@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout])
def test_never_sent_requests_are_retried_for_every_call(name: str, call: Callable[[Client], object],
                                                         error: type[Exception], sleeps: list[float]) -> None:
    handler = ScriptedHandler(error, error, _success_for(name))
    call(_client(handler))
    assert len(handler.requests) == 3
    assert sleeps == [0.5, 1.0]
    assert handler.requests[0].content == handler.requests[2].content


@pytest.mark.parametrize(("name", "call"), NON_IDEMPOTENT_POSTS)
@pytest.mark.parametrize("error", [httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.ReadError])
def test_non_idempotent_post_not_retried_after_ambiguous_failure(name: str, call: Callable[[Client], object],
                                                                 error: type[Exception], sleeps: list[float]) -> None:
    handler = ScriptedHandler(error, _success_for(name))
    with pytest.raises(sdk.BdloptConnectionError) as info:
        call(_client(handler))
    assert len(handler.requests) == 1
    assert sleeps == []
    assert "not idempotent" in str(info.value)


@pytest.mark.parametrize(("name", "call"), IDEMPOTENT_POSTS)
@pytest.mark.parametrize("error", [httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.ReadError])
def test_idempotent_writes_retried_after_ambiguous_failure(name: str, call: Callable[[Client], object],
                                                           error: type[Exception], sleeps: list[float]) -> None:
    handler = ScriptedHandler(error, httpx.Response(503, json={"detail": "restarting", "code": "unavailable"}),
                              _success_for(name))
    call(_client(handler))
    assert len(handler.requests) == 3 and sleeps == [0.5, 1.0]


def test_retries_stop_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr("time.monotonic", lambda: clock[0])
    monkeypatch.setattr("time.sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    handler = ScriptedHandler(httpx.ConnectError)
    client = Client(http_client=httpx.Client(transport=httpx.MockTransport(handler), base_url="http://fake"),
                    retries=None, retry_deadline=20.0)
    with pytest.raises(sdk.BdloptConnectionError):
        client.observe("s1", "t1", {"loss": 1.0})
    # waits 0.5, 1, 2, 4, 8 (= 15.5 s); the next 8 s wait would end past the 20 s deadline
    assert len(handler.requests) == 6 and clock[0] == 15.5


def test_get_retried_on_503_honouring_retry_after(sleeps: list[float]) -> None:
    unavailable = httpx.Response(503, json={"detail": "database not ready", "code": "unavailable"},
                                 headers={"Retry-After": "1.5"})
    handler = ScriptedHandler(unavailable, httpx.Response(503, json={"detail": "still not", "code": "unavailable"}),
                              _ok())
    assert _client(handler).get_study("s1").name == "demo"
    assert sleeps == [1.5, 1.0]  # Retry-After, then the backoff of attempt 1


def test_suggest_not_retried_on_503(sleeps: list[float]) -> None:
    handler = ScriptedHandler(httpx.Response(503, json={"detail": "busy", "code": "unavailable"}), _ok())
    with pytest.raises(sdk.ServiceUnavailableError):
        _client(handler).suggest("s1")
    assert len(handler.requests) == 1 and sleeps == []


def test_500_not_retried_even_for_get(sleeps: list[float]) -> None:
    handler = ScriptedHandler(httpx.Response(500, json={"detail": "oops", "code": "internal_error"}), _ok())
    with pytest.raises(sdk.ServerError):
        _client(handler).get_study("s1")
    assert len(handler.requests) == 1


def test_429_retried_for_observe_honouring_retry_after(sleeps: list[float]) -> None:
    limited = httpx.Response(429, json={"detail": "too many requests", "code": "rate_limited"},
                             headers={"Retry-After": "2"})
    handler = ScriptedHandler(limited, _ok(TRIAL))
    trial = _client(handler).observe("s1", "t1", {"loss": 1.0})
    assert trial.values == {"loss": 1.0}
    assert len(handler.requests) == 2
    assert sleeps == [2.0]
    assert handler.requests[0].content == handler.requests[1].content


def test_429_exhausted_raises_rate_limit_error(sleeps: list[float]) -> None:
    limited = httpx.Response(429, json={"detail": "too many requests", "code": "rate_limited"},
                             headers={"Retry-After": "3"})
    handler = ScriptedHandler(limited)
    with pytest.raises(sdk.RateLimitError) as info:
        _client(handler, retries=2).suggest("s1")
    assert len(handler.requests) == 3
    assert sleeps == [3.0, 3.0]
    assert info.value.retry_after == 3.0 and info.value.message == "too many requests"


def test_429_without_retry_after_uses_backoff(sleeps: list[float]) -> None:
    handler = ScriptedHandler(httpx.Response(429), httpx.Response(429), _ok())
    _client(handler).get_study("s1")
    assert sleeps == [0.5, 1.0]


def test_429_with_too_long_retry_after_is_raised_at_once(sleeps: list[float]) -> None:
    handler = ScriptedHandler(httpx.Response(429, headers={"Retry-After": "3600"}), _ok())
    with pytest.raises(sdk.RateLimitError) as info:
        _client(handler).get_study("s1")
    assert len(handler.requests) == 1 and sleeps == []
    assert info.value.retry_after == 3600.0


def test_retries_zero_disables_retrying(sleeps: list[float]) -> None:
    handler = ScriptedHandler(httpx.ConnectError, _ok())
    with pytest.raises(sdk.BdloptConnectionError):
        _client(handler, retries=0).get_study("s1")
    assert len(handler.requests) == 1


def test_retry_policy_backoff_is_capped() -> None:
    policy = RetryPolicy(retries=10, backoff_base_s=0.5, backoff_max_s=4.0)
    assert [policy.backoff(k) for k in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    with pytest.raises(ValueError):
        RetryPolicy(retries=-1)
