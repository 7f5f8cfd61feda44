"""Heartbeat, progress and cooperative cancellation of one running attempt.

A background thread heartbeats every ``heartbeat_seconds`` (so a long epoch or a long Laplace
fit does not look like a lost worker); progress writes are throttled and also count as
heartbeats. Every write is fenced (:mod:`service.jobs.attempts`) and tells the attempt whether it
still owns the job and whether the client asked to cancel. The job's code calls :meth:`check`
(at least once per epoch); it raises :class:`JobCancelled` or :class:`JobLost` so the attempt
stops and releases its worker.
"""

from __future__ import annotations

import logging
import threading
import time

from service.db import Database
from service.jobs import attempts
from service.jobs.attempts import AttemptStatus

logger = logging.getLogger(__name__)


class JobCancelled(Exception):
    """The client cancelled the job; the attempt stops and marks it cancelled."""


class JobLost(Exception):
    """Another attempt owns the job (this one was presumed dead), or it finished: stop, write nothing."""


class JobInterrupted(Exception):
    """The worker is shutting down: the attempt stops and gives the job back to the queue."""


class AttemptControl:
    """Fenced progress reports and cancellation checks of attempt ``attempt`` of job ``job_id``.

    Args:
        db: the job database.
        job_id, attempt: the claimed job and the attempt number (fencing token).
        min_write_interval: progress writes closer together than this (seconds) are skipped,
            unless forced.
        poll_interval: :meth:`check` reads the job's row when the last news is older than this.
        interrupt: set by a worker that shuts down; :meth:`check` then raises JobInterrupted.
    """

    def __init__(self, db: Database, job_id: str, attempt: int, *, min_write_interval: float = 0.5,
                 poll_interval: float = 1.0, interrupt: threading.Event | None = None) -> None:
        self.db, self.job_id, self.attempt = db, job_id, attempt
        self.interrupt = interrupt
        self.min_write_interval, self.poll_interval = min_write_interval, poll_interval
        self.status = AttemptStatus.OK
        self._last_news = time.monotonic()
        self._last_write = float("-inf")
        self._lock = threading.Lock()

    def _learn(self, status: AttemptStatus) -> None:
        with self._lock:
            if self.status is not AttemptStatus.LOST:
                self.status = status
            self._last_news = time.monotonic()

    def heartbeat(self) -> None:
        """Tell the database that the worker is alive (the heartbeat thread calls this)."""
        try:
            self._learn(attempts.heartbeat(self.db, self.job_id, self.attempt))
        except Exception:  # noqa: BLE001 - a transient database error must not kill the job
            logger.warning("heartbeat of job %s failed", self.job_id, exc_info=True)

    def progress(self, fraction: float, message: str | None = None, *, epoch: int | None = None,
                 log_marglik: float | None = None, force: bool = False) -> None:
        """Report progress (fraction of the whole job in [0, 1]) and stop if cancelled or lost.

        Raises:
            JobCancelled, JobLost: see :meth:`check`.
        """
        now = time.monotonic()
        if force or now - self._last_write >= self.min_write_interval:
            self._last_write = now
            try:
                self._learn(attempts.report_progress(self.db, self.job_id, self.attempt, progress=fraction,
                                                     message=message, epoch=epoch, log_marglik=log_marglik))
            except Exception:  # noqa: BLE001
                logger.warning("progress report of job %s failed", self.job_id, exc_info=True)
        self.check()

    def should_stop(self) -> bool:
        """Whether the attempt must stop (cancelled, lost or interrupted); reads the row when news is old."""
        if self.interrupt is not None and self.interrupt.is_set():
            return True
        if time.monotonic() - self._last_news >= self.poll_interval:
            try:
                self._learn(attempts.poll(self.db, self.job_id, self.attempt))
            except Exception:  # noqa: BLE001
                logger.warning("cancellation check of job %s failed", self.job_id, exc_info=True)
        return self.status is not AttemptStatus.OK

    def check(self) -> None:
        """Raise if the attempt must stop.

        Raises:
            JobLost: another attempt owns the job, or it already finished.
            JobCancelled: the client asked to cancel.
            JobInterrupted: the worker shuts down.
        """
        if self.should_stop():
            if self.interrupt is not None and self.interrupt.is_set():
                raise JobInterrupted(f"job {self.job_id}: the worker is shutting down")
            if self.status is AttemptStatus.LOST:
                raise JobLost(f"job {self.job_id}: attempt {self.attempt} no longer owns the job")
            raise JobCancelled(f"job {self.job_id} was cancelled")


class HeartbeatThread:
    """Calls ``control.heartbeat()`` every ``interval`` seconds until stopped (daemon thread)."""

    def __init__(self, control: AttemptControl, interval: float) -> None:
        self.control, self.interval = control, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{control.job_id[:8]}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.control.heartbeat()

    def __enter__(self) -> HeartbeatThread:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=max(5.0, self.interval))
