"""One queue for the SQLite writers of every process on one database file.

SQLite lets one writer at a time hold a database; a writer that finds the lock taken is left to
SQLite's busy handler, which polls by sleeping (1, 2, 5, 10 ... up to 100 ms a try). With several
``bdlopt serve`` processes on one file (or an API beside a worker), most of a contended write's time
went to sleeping after the lock was already free: a second API process on one SQLite file gave fewer
trials per second than one (``benchmarks.throughput``, sqlite-x2). Here writers queue in the kernel
instead: an in-process lock orders the threads of a process, and ``fcntl.flock`` on a file beside the
database (``<database>-writers.lock``) orders the processes; a released ``flock`` wakes the next waiter
at once. SQLite's own lock and busy timeout still guard every write, so a writer that does not take
this lock (the ``sqlite3`` shell, a migration) stays safe, it only queues the old way.

Written by hand because the libraries that wrap file locks (``filelock`` and the like) wait by
polling with a sleep too, which is what this replaces. Without ``fcntl`` (Windows) only the
in-process lock is taken.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType

try:  # POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class SQLiteWriterLock:
    """A reentrant lock held by whoever writes to one SQLite database, across threads and processes.

    Args:
        path: the database file (None for an in-memory database: the in-process lock suffices).
    """

    def __init__(self, path: str | None) -> None:
        self._threads = threading.RLock()
        self._depth = 0
        self._lock_path = f"{path}-writers.lock" if path and fcntl is not None else None
        self._fd: int | None = None
        self._pid = 0

    def _descriptor(self) -> int:
        # Opened per process: a child forked with the parent's descriptor would share its lock
        # (flock locks belong to the open file description), so it opens its own.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def __enter__(self) -> SQLiteWriterLock:
        self._threads.acquire()
        if self._depth == 0 and self._lock_path is not None:
            try:
                fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._lock_path is not None:
                fcntl.flock(self._descriptor(), fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        """Close the lock file's descriptor (the lock must not be held)."""
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None
