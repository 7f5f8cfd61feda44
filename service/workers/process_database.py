"""One database handle per worker process (created on first use, so never inherited through a fork)."""

from __future__ import annotations

import os

from service.config import Settings
from service.db import Database

_DATABASES: dict[int, Database] = {}


def process_database(settings: Settings) -> Database:
    """This process's database (created on first use, so never inherited through a fork)."""
    pid = os.getpid()
    if pid not in _DATABASES:
        _DATABASES[pid] = Database(settings.resolved_database_url(),
                                   sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    return _DATABASES[pid]


def close_process_database() -> None:
    """Dispose of this process's database, if it has one."""
    database = _DATABASES.pop(os.getpid(), None)
    if database is not None:
        database.dispose()
