"""The API side of the ``celery`` back end: sends job ids to the broker."""

from __future__ import annotations

from service.config import Settings
from service.workers.celery_app import TASK_NAME, create_celery_app, queue_name

#: How hard ``dispatch`` tries before reporting the broker unreachable.
PUBLISH_RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2.0}


class CeleryBackend:
    """Publishes ``bdlopt.run_job(job_id)`` on the job's queue; ``bdlopt worker`` processes run it."""

    name = "celery"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_celery_app(settings)

    def start(self) -> None:
        """Nothing to start: workers are separate processes."""

    def dispatch(self, job_id: str, queue: str) -> None:
        """Publish the job id (raises when the broker stays unreachable)."""
        self.app.send_task(TASK_NAME, args=[job_id], queue=queue_name(self.settings, queue), retry=True,
                           retry_policy=PUBLISH_RETRY_POLICY)

    def stop(self) -> None:
        """Close the broker connections."""
        self.app.close()
