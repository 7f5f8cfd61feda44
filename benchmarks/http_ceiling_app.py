"""The HTTP ceiling of ``benchmarks.throughput``: a FastAPI app that answers bdlopt's create, suggest
and observe routes with bodies of the same shape and stores nothing.

Served by uvicorn like ``bdlopt serve`` (httptools, uvloop, one process) and driven by the same client
loop, it measures what 16 HTTP clients and one server process cost on this machine before any study
logic or database work: the upper bound that bdlopt's own rate is read against. Written by hand
because it is the measuring instrument itself (no library ships a stand-in of this API).

    python -m uvicorn benchmarks.http_ceiling_app:app --port 8001 --log-level warning
"""

from __future__ import annotations

import itertools
import uuid

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="HTTP ceiling of the throughput benchmark")
_numbers = itertools.count()


class ObserveIn(BaseModel):
    """The fields bdlopt's observe validates on every call."""

    trial_id: str
    values: dict[str, float]


@app.get("/readyz")
def ready() -> dict:
    """Readiness, as ``bdlopt serve`` answers it."""
    return {"status": "ok"}


@app.post("/v1/studies", status_code=201)
def create_study(body: dict) -> dict:
    """A study id (nothing stored)."""
    return {"id": uuid.uuid4().hex, "name": body.get("name")}


@app.post("/v1/studies/{study_id}/suggest")
def suggest(study_id: str, body: dict | None = None) -> dict:
    """One trial in the shape bdlopt answers (fixed parameters)."""
    number = next(_numbers)
    return {"trials": [{"id": uuid.uuid4().hex, "study_id": study_id, "number": number, "state": "pending",
                        "params": {"x": 1.0, "y": 2.0}}]}


@app.post("/v1/studies/{study_id}/observe")
def observe(study_id: str, body: ObserveIn) -> dict:
    """The completed trial (nothing stored)."""
    return {"id": body.trial_id, "study_id": study_id, "state": "completed", "values": body.values}
