"""The back-end interface and its factory."""

from __future__ import annotations

from typing import Protocol

from service.config import Settings
from service.db import Database


class JobBackend(Protocol):
    """Delivers job ids to workers.

    ``dispatch`` may deliver a job more than once (a reaper requeue racing a broker re-delivery);
    the fenced claim in :mod:`service.jobs.attempts` makes duplicates harmless.
    """

    name: str

    def start(self) -> None:
        """Start delivering (the local back end starts its threads and re-enqueues queued jobs)."""

    def dispatch(self, job_id: str, queue: str) -> None:
        """Deliver ``job_id`` to a worker consuming the logical ``queue`` ("gpu" or "cpu").

        Raises:
            Exception: the id could not be handed over (e.g. the broker is unreachable).
        """

    def stop(self) -> None:
        """Stop delivering and release resources."""


def create_backend(settings: Settings, database: Database) -> JobBackend:
    """The back end named by ``settings.job_backend``."""
    if settings.job_backend == "celery":
        from service.workers.celery_backend import CeleryBackend

        return CeleryBackend(settings)
    from service.workers.local import LocalBackend

    return LocalBackend(database, settings)
