"""A suggest holds no database lock while its model is fitted (SQLite and PostgreSQL).

A test-only surrogate blocks inside its fit until released; meanwhile every other kind of
request, on another study and on the same one, must complete. It is also the example of a new
surrogate: one class plus one ``register_surrogate`` line.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from service.optimizers import register_surrogate, unregister_surrogate
from service.optimizers.gp import GPSurrogate

SPACE = [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}, {"name": "y", "type": "float", "low": 0.0, "high": 1.0}]
OTHER_REQUEST_TIMEOUT = 15.0  # seconds; SQLite's busy timeout is 30 s, so a held lock would show


class BlockingSurrogate(GPSurrogate):
    """The GP, except that ``fit`` waits for ``release`` (and says when it started waiting)."""

    name = "blocking"
    entered = threading.Event()
    release = threading.Event()

    def fit(self, *args, **kwargs):
        type(self).entered.set()
        assert type(self).release.wait(60), "the test never released the fit"
        return super().fit(*args, **kwargs)


@pytest.fixture
def blocking_surrogate() -> Iterator[type[BlockingSurrogate]]:
    BlockingSurrogate.entered.clear()
    BlockingSurrogate.release.clear()
    register_surrogate("blocking", BlockingSurrogate, description="test only: blocks inside fit")
    try:
        yield BlockingSurrogate
    finally:
        BlockingSurrogate.release.set()
        unregister_surrogate("blocking")


def _create(client, name: str, surrogate: str) -> str:
    response = client.post("/v1/studies", json={"name": name, "parameters": SPACE, "objectives": [{"name": "f"}],
                                                "surrogate": surrogate, "initial_design_size": 2, "seed": 1})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _observe(client, sid: str, x: float, y: float) -> int:
    return client.post(f"/v1/studies/{sid}/observe",
                       json={"params": {"x": x, "y": y}, "values": {"f": (x - 0.3) ** 2 + y}}).status_code


def _within(timeout: float, call) -> object:
    """Run ``call`` in a thread; its result, or AssertionError when it takes longer than ``timeout``."""
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=call()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"a request waited more than {timeout} s behind another study's model fit"
    return box["result"]


def test_other_requests_complete_while_a_fit_is_held(any_client, blocking_surrogate) -> None:
    client = any_client
    held = _create(client, "held", "blocking")
    for x, y in ((0.1, 0.2), (0.8, 0.5), (0.4, 0.9)):
        assert _observe(client, held, x, y) == 200
    result: dict = {}
    suggesting = threading.Thread(
        target=lambda: result.update(r=client.post(f"/v1/studies/{held}/suggest", json={"count": 1})), daemon=True)
    suggesting.start()
    assert blocking_surrogate.entered.wait(30), "the held suggest never reached its fit"

    other = _within(OTHER_REQUEST_TIMEOUT, lambda: _create(client, "other", "gp"))
    for x, y in ((0.2, 0.3), (0.6, 0.1), (0.9, 0.7)):
        assert _within(OTHER_REQUEST_TIMEOUT, lambda: _observe(client, other, x, y)) == 200
    answer = _within(OTHER_REQUEST_TIMEOUT, lambda: client.post(f"/v1/studies/{other}/suggest", json={"count": 1}))
    assert answer.status_code == 200 and answer.json()["trials"][0]["policy"] == "gp", answer.text
    assert _within(OTHER_REQUEST_TIMEOUT, lambda: _observe(client, held, 0.5, 0.5)) == 200  # the same study too
    listing = _within(OTHER_REQUEST_TIMEOUT, lambda: client.get("/v1/studies"))
    assert listing.status_code == 200 and listing.json()["total"] == 2
    assert suggesting.is_alive(), "the held suggest finished before it was released"

    blocking_surrogate.release.set()
    suggesting.join(60)
    response = result["r"]
    assert response.status_code == 200, response.text
    trial = response.json()["trials"][0]
    assert trial["policy"] == "blocking" and trial["state"] == "pending"


def test_a_registered_surrogate_is_listed_and_validated(client, blocking_surrogate) -> None:
    schema = client.get("/openapi.json").json()
    assert client.post("/v1/studies", json={"name": "n", "parameters": SPACE, "objectives": [{"name": "f"}],
                                            "surrogate": "nope"}).status_code == 422
    bad = client.post("/v1/studies", json={"name": "n", "parameters": SPACE, "objectives": [{"name": "f"}],
                                           "surrogate": "blocking", "surrogate_options": {"width": 3}})
    assert bad.status_code == 422 and "surrogate_options" in bad.text
    enum = schema["components"]["schemas"]["StudySpec"]["properties"]["surrogate"]["enum"]
    assert {"random", "gp", "lla", "blocking"} <= set(enum)
