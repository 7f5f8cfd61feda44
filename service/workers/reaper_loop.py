"""The reaper's loop: a daemon thread of the API process that recovers jobs of lost workers.

Every ``job_reaper_interval_seconds`` it runs :func:`service.jobs.reaper.reap_lost_jobs` and hands
the requeued ids to the back end. Several API replicas may each run one: every transition is a
compare-and-set, so a job is requeued once.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from service.config import Settings
from service.db import Database
from service.jobs.reaper import ReapReport, reap_lost_jobs
from service.workers.backend import JobBackend

logger = logging.getLogger(__name__)


def reap_once(database: Database, backend: JobBackend, settings: Settings) -> ReapReport:
    """One reaper pass; requeued jobs are dispatched again (the local back end ignores the time limit)."""
    time_limit = timedelta(seconds=settings.job_time_limit_seconds) if settings.job_backend == "celery" else None
    report = reap_lost_jobs(database, timeout=timedelta(seconds=settings.job_reaper_timeout_seconds),
                            time_limit=time_limit)
    for job_id, queue in report.requeued:
        try:
            backend.dispatch(job_id, queue)
        except Exception:  # noqa: BLE001 - the next start of the local pool or a later pass retries
            logger.exception("reaper: could not dispatch requeued job %s", job_id)
    if report.requeued or report.failed or report.cancelled:
        logger.warning("reaper: requeued %s, failed %s, cancelled %s", [j for j, _ in report.requeued],
                       report.failed, report.cancelled)
    return report


class ReaperThread:
    """Runs :func:`reap_once` periodically until stopped."""

    def __init__(self, database: Database, backend: JobBackend, settings: Settings) -> None:
        self.database, self.backend, self.settings = database, backend, settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bdlopt-job-reaper", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.job_reaper_interval_seconds):
            try:
                reap_once(self.database, self.backend, self.settings)
            except Exception:  # noqa: BLE001 - e.g. the database is briefly unreachable
                logger.exception("reaper pass failed")

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for the pass in progress."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
