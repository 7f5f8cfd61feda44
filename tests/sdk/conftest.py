"""Fixtures of the SDK tests: an in-memory fake server and a client wired to it; no real sleeping."""

from __future__ import annotations

import pytest

from service.sdk import Client
from tests.sdk.fake_server import FakeServer


@pytest.fixture(autouse=True)
def _no_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BDLOPT_API_KEY", raising=False)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replaces ``time.sleep`` and records the requested durations (seconds)."""
    recorded: list[float] = []
    monkeypatch.setattr("time.sleep", recorded.append)
    return recorded


@pytest.fixture
def fake() -> FakeServer:
    return FakeServer()


@pytest.fixture
def client(fake: FakeServer) -> Client:
    with Client(http_client=fake.client()) as sdk_client:
        yield sdk_client


SPACE = [
    {"name": "x", "type": "float", "low": -2.0, "high": 2.0, "log": False},
    {"name": "n", "type": "int", "low": 1, "high": 5, "log": False},
    {"name": "c", "type": "categorical", "choices": ["a", "b", 3]},
]
