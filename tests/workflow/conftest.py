"""Fixtures of the workflow tests: the SDK talking to the real app in process (SQLite, random surrogate)."""

from __future__ import annotations

import pytest

from service.sdk import Client

SPACE = [{"name": "x", "type": "float", "low": -5.0, "high": 10.0},
         {"name": "n", "type": "int", "low": 1, "high": 4},
         {"name": "act", "type": "categorical", "choices": ["relu", "tanh"]}]


@pytest.fixture
def sdk(client) -> Client:
    """An SDK client over the in-process TestClient of ``tests/conftest.py``."""
    return Client(http_client=client)


def loss(params: dict) -> float:
    """A cheap objective of SPACE (module level, so worker processes can unpickle it)."""
    return (params["x"] - 1.0) ** 2 + params["n"] + (0.5 if params["act"] == "tanh" else 0.0)
