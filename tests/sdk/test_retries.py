"""Retry policy: idempotent calls retry connection failures and 503; every call retries 429; POSTs that may
have been applied are never sent twice."""

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


@pytest.mark.parametrize(("name", "call"), [
    ("observe", lambda c: c.observe("s1", "t1", {"loss": 1.0})),
    ("suggest", lambda c: c.suggest("s1", count=2)),
    ("create", lambda c: c.create_study("demo", [], objective="loss")),
    ("fail", lambda c: c.fail("s1", "t1", reason="boom")),
])
@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.RemoteProtocolError])
def test_non_idempotent_post_not_retried_on_connection_error(name: str, call: Callable[[Client], object],
                                                             error: type[Exception], sleeps: list[float]) -> None:
    handler = ScriptedHandler(error, _ok(TRIAL))
    with pytest.raises(sdk.BdloptConnectionError) as info:
        call(_client(handler))
    assert len(handler.requests) == 1
    assert sleeps == []
    assert "not idempotent" in str(info.value)


def test_read_timeout_is_connection_error_and_not_retried(sleeps: list[float]) -> None:
    handler = ScriptedHandler(httpx.ReadTimeout, _ok())
    with pytest.raises(sdk.BdloptConnectionError):
        _client(handler).get_study("s1")
    assert len(handler.requests) == 1


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
