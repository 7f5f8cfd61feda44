"""The Celery application of the ``celery`` back end, configured for long ML jobs.

- The message carries only the job id; the job row is the source of truth (results are ignored).
- ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged after the job
  ran, and requeued when the worker process dies, so a killed worker's job is delivered again.
- ``worker_prefetch_multiplier = 1``: a worker process reserves one job at a time.
- A hard time limit (``job_time_limit_seconds``) shorter than Redis's ``visibility_timeout``, so
  Redis never re-delivers a job that is still running; a soft limit a little earlier lets the
  job fail cleanly first.
- Queues ``gpu`` and ``cpu`` (with an optional prefix, ``<prefix>.gpu``): CUDA jobs go to ``gpu``.
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue
from sqlalchemy.exc import OperationalError

from service.config import Settings

TASK_NAME = "bdlopt.run_job"
LOGICAL_QUEUES = ("gpu", "cpu")


QUEUE_SEPARATORS = ".-_:"


def queue_name(settings: Settings, logical: str) -> str:
    """The broker queue of a logical queue ("gpu" / "cpu"): ``<prefix>.<logical>``.

    A prefix that already ends with a separator (``.-_:``) is used as it is (``team-`` -> ``team-gpu``).
    """
    prefix = settings.celery_queue_prefix
    if prefix and not prefix.endswith(tuple(QUEUE_SEPARATORS)):
        prefix += "."
    return f"{prefix}{logical}"


def soft_time_limit(hard_limit: int) -> int:
    """Soft limit: 5 % (at most 5 minutes, at least 1 s) before the hard one."""
    return max(1, hard_limit - max(1, min(300, hard_limit // 20)))


def create_celery_app(settings: Settings) -> Celery:
    """A Celery app for ``settings`` with the ``bdlopt.run_job`` task registered."""
    app = Celery("bdlopt", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.job_time_limit_seconds,
        task_soft_time_limit=soft_time_limit(settings.job_time_limit_seconds),
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_seconds},
        task_queues=[Queue(queue_name(settings, logical)) for logical in LOGICAL_QUEUES],
        task_default_queue=queue_name(settings, "cpu"),
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_track_started=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
    )

    # shared=False: each app runs its own closure (with its own settings), not the first app's.
    @app.task(name=TASK_NAME, shared=False, acks_late=True, reject_on_worker_lost=True,
              autoretry_for=(OperationalError,), retry_backoff=2, retry_backoff_max=60, max_retries=8)
    def run_job(job_id: str) -> str | None:
        """Run one delivery of ``job_id`` in this worker process."""
        from service.jobs.runner import execute_job
        from service.workers.process_database import process_database

        return execute_job(process_database(settings), settings, job_id)

    return app
