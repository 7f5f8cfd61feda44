"""Runs one delivery of a job id on a worker: claim, heartbeat, run the kind, store the outcome.

Both back ends call :func:`execute_job`. Whatever the run does, the outcome is written through
the fenced transitions of :mod:`service.jobs.attempts`, so a delivery that lost its claim (a
duplicate message, or a worker presumed dead that comes back) writes nothing. An exception in
the kind's code fails the job at once (it is deterministic); only a lost worker is retried.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
from datetime import timedelta
from typing import Any

import torch

from service.config import Settings
from service.datasets.catalog import load_table
from service.db import Database
from service.jobs import attempts
from service.jobs.artifacts import ArtifactWriter
from service.jobs.context import JobContext
from service.jobs.control import AttemptControl, HeartbeatThread, JobCancelled, JobInterrupted, JobLost
from service.jobs.data import make_splits
from service.jobs.model_specs import parse_model_spec
from service.jobs.registry import get_kind, validate_config

logger = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def worker_name() -> str:
    """``host:pid`` of this process, stored on the job while it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def resolve_device(requested: str) -> torch.device:
    """The torch device for a job's ``device`` field ("auto": CUDA when this process sees a GPU).

    Raises:
        RuntimeError: ``"cuda"`` was requested but no GPU is visible to this worker.
    """
    if requested == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if requested == "cuda":
        raise RuntimeError("the job asks for device 'cuda' but this worker sees no CUDA device")
    return torch.device("cpu")


def json_safe(value: Any) -> Any:
    """``value`` with tensors and numpy scalars as plain numbers or lists and non-finite floats as None
    (the result column is JSON, which has no NaN)."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, torch.Tensor):
        return json_safe(value.detach().cpu().tolist())
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def execute_job(db: Database, settings: Settings, job_id: str, *, worker: str | None = None,
                interrupt: threading.Event | None = None) -> str | None:
    """Claim and run job ``job_id``; returns the state it left the job in, or None if it wrote nothing.

    Args:
        db, settings: the job database and the service settings.
        job_id: the delivered id.
        worker: the name stored on the job (default ``host:pid``).
        interrupt: set when the worker shuts down; the attempt then gives the job back to the queue.
    """
    worker = worker or worker_name()
    claim = attempts.claim(db, job_id, worker=worker, stale_after=timedelta(seconds=settings.job_reaper_timeout_seconds))
    if claim is None:
        logger.info("job %s: delivery dropped (not queued, finished, or owned by a live attempt)", job_id)
        return None
    logger.info("job %s (%s): attempt %d started on %s", job_id, claim.kind, claim.attempt, worker)
    control = AttemptControl(db, job_id, claim.attempt, interrupt=interrupt)
    writer = ArtifactWriter(settings.resolved_artifacts_dir(), job_id, claim.attempt)
    with HeartbeatThread(control, settings.job_heartbeat_seconds):
        try:
            kind = get_kind(claim.kind)
            config = validate_config(kind, claim.config)
            device = resolve_device(claim.device)
            dtype = _DTYPES[getattr(config, "dtype", "float32")]

            def load_data():
                table = load_table(db, settings.resolved_datasets_dir(), claim.dataset)
                return make_splits(table, claim.target or table.columns[-1], claim.task,
                                   test_fraction=config.test_fraction, seed=config.seed, dtype=dtype, device=device)

            context = JobContext(
                job_id=job_id, attempt=claim.attempt, task=claim.task, model=parse_model_spec(claim.model),
                model_given=claim.model is not None, config=config, device=device, dtype=dtype, artifacts=writer,
                control=control, load_data=load_data,
                info={"dataset": claim.dataset, "target": claim.target, "device": str(device), "kind": claim.kind},
            )
            result = kind.run(context)
            if not isinstance(result, dict):
                raise TypeError(f"job kind '{kind.name}' returned {type(result).__name__}, not a dict")
            result = json_safe(result)
            control.check()
        except JobCancelled:
            writer.discard()
            stored = attempts.finish_cancelled(db, job_id, claim.attempt)
            logger.info("job %s: cancelled while running (recorded: %s)", job_id, stored)
            return "cancelled" if stored else None
        except JobInterrupted:
            writer.discard()
            released = attempts.release(db, job_id, claim.attempt, "the worker shut down")
            logger.info("job %s: interrupted by shutdown (requeued: %s)", job_id, released)
            return "queued" if released else None
        except JobLost:
            writer.discard()
            logger.warning("job %s: attempt %d lost the job; nothing written", job_id, claim.attempt)
            return None
        except Exception as error:  # noqa: BLE001 - any failure of the job's code fails the job
            writer.discard()
            logger.exception("job %s: attempt %d failed", job_id, claim.attempt)
            message = f"{type(error).__name__}: {error}"
            stored = attempts.fail(db, job_id, claim.attempt, message)
            return "failed" if stored else None
        if attempts.complete(db, job_id, claim.attempt, result, list(writer.files)):
            logger.info("job %s: succeeded on attempt %d", job_id, claim.attempt)
            return "succeeded"
        writer.discard()
        logger.warning("job %s: attempt %d finished but no longer owns the job; result discarded", job_id, claim.attempt)
        return None
