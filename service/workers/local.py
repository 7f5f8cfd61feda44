"""The ``local`` back end: a pool of worker threads inside the API process.

No broker is involved: ids go to an in-memory queue. The database is still the source of truth,
so on start the pool re-enqueues every job left ``queued`` by an earlier process, and the reaper
requeues jobs that were running when that process died. On stop, running jobs are interrupted at
their next check and put back in the queue (their next attempt starts over).
"""

from __future__ import annotations

import logging
import queue
import threading

from service.config import Settings
from service.db import Database
from service.jobs.catalog import queued_job_ids
from service.jobs.runner import execute_job, worker_name

logger = logging.getLogger(__name__)


class LocalBackend:
    """Runs jobs on ``settings.local_workers`` daemon threads (0: jobs stay queued)."""

    name = "local"

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database, self.settings = database, settings
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.interrupt = threading.Event()

    def start(self) -> None:
        """Start the threads and re-enqueue the jobs the database holds as queued."""
        self.interrupt.clear()
        for index in range(self.settings.local_workers):
            thread = threading.Thread(target=self._work, name=f"bdlopt-job-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        for job_id, _queue in queued_job_ids(self.database):
            self._queue.put(job_id)

    def dispatch(self, job_id: str, queue: str) -> None:
        """Put ``job_id`` on the in-memory queue (``queue`` does not matter locally)."""
        self._queue.put(job_id)

    def stop(self, timeout: float = 30.0) -> None:
        """Interrupt running jobs (they return to the queue) and join the threads."""
        self.interrupt.set()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads.clear()

    def _work(self) -> None:
        name = f"{worker_name()}/{threading.current_thread().name}"
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                execute_job(self.database, self.settings, job_id, worker=name, interrupt=self.interrupt)
            except Exception:  # noqa: BLE001 - a worker thread must survive any job
                logger.exception("local worker: job %s crashed outside the job's code", job_id)
