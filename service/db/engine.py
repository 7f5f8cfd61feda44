"""Engine and session handling for SQLite (embedded) and PostgreSQL.

Write transactions that must not interleave lock the study row: on PostgreSQL by ``SELECT ... FOR
UPDATE`` (the domain asks for it); on SQLite every write transaction opens with ``BEGIN IMMEDIATE``,
a lock on the whole database (SQLite has no row locks), so write transactions are kept short and
no model is ever fitted inside one. SQLite runs in
WAL mode with a busy timeout, so readers never block and writers queue instead of failing.

A read session sees one consistent snapshot of the database, whatever it reads in how many
statements: on SQLite a read transaction does so by itself; on PostgreSQL read sessions run at
``REPEATABLE READ`` (and read-only). At PostgreSQL's default ``READ COMMITTED`` each statement
sees the commits made since the previous one, so a suggest that read the completed trials, then the
pending ones, missed a trial observed in between (in neither list), and handed its point out again.
A read-only transaction at ``REPEATABLE READ`` never fails to serialise, so reads need no retry.

SQLite write transactions also queue on :class:`~service.db.sqlite_writer_lock.SQLiteWriterLock`
before ``BEGIN IMMEDIATE`` (a thread lock within the process, a file lock across processes):
SQLite's busy handler waits by sleeping (up to 100 ms a try), so under many concurrent writers most
of the time went to sleeping after the lock was already free; these locks hand over at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
import os
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from service.db.sqlite_writer_lock import SQLiteWriterLock


class Database:
    """One database: an engine plus read and write session factories.

    Args:
        url: SQLAlchemy URL (``sqlite:///path.db`` or ``postgresql+psycopg://...``).
        sqlite_busy_timeout_ms: how long a SQLite writer waits for the lock.
    """

    def __init__(self, url: str, *, sqlite_busy_timeout_ms: int = 30_000) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = self._sqlite_engine(url, sqlite_busy_timeout_ms)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        # the queue of SQLite writers, across threads and processes (module docstring); PostgreSQL
        # locks rows, not the database
        self._write_lock = SQLiteWriterLock(self._sqlite_file()) if self.is_sqlite else None
        self._sqlite_writer: Connection | None = None  # see write_connection
        self._sqlite_writer_pid = 0
        writer = self.engine.execution_options(bdlopt_write=True)
        self._writer = writer
        reader = self.engine if self.is_sqlite else self.engine.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True)
        self._read = sessionmaker(bind=reader, expire_on_commit=False)
        self._write = sessionmaker(bind=writer, expire_on_commit=False)

    def _sqlite_file(self) -> str | None:
        database = self.url.database
        return str(Path(database).resolve()) if database and database != ":memory:" else None

    def _sqlite_engine(self, url: str, busy_timeout_ms: int) -> Engine:
        database = self.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - driver hook
            # Let SQLAlchemy (not the driver) emit BEGIN, so that we can choose IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection) -> None:
            write = connection.get_execution_options().get("bdlopt_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads, all of them from one snapshot of the database (module docstring);
        rolled back at the end."""
        with self._read() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back whole on any error."""
        with self._write_lock or nullcontext(), self._write() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A write transaction on a Core connection (no ORM session: for the per-trial hot paths of
        ``service.studies.trial_statements``): committed when the block ends, rolled back whole on any
        error. Locks like :meth:`write`.

        On SQLite the writers queue on one lock anyway, so they share one connection, held open by
        this process: no pool checkout per transaction."""
        if self._write_lock is None:
            with self._writer.begin() as connection:
                yield connection
            return
        with self._write_lock:
            connection = self._held_sqlite_writer()
            with connection.begin():
                yield connection

    def _held_sqlite_writer(self) -> Connection:
        """The SQLite writers' connection (a new one after an error invalidated it, or in a forked child)."""
        held = self._sqlite_writer
        if held is None or held.closed or held.invalidated or self._sqlite_writer_pid != os.getpid():
            self._sqlite_writer = held = self._writer.connect()
            self._sqlite_writer_pid = os.getpid()
        return held

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        if self._write_lock is not None:
            with self._write_lock:
                if self._sqlite_writer is not None and self._sqlite_writer_pid == os.getpid():
                    self._sqlite_writer.close()
                self._sqlite_writer = None
            self._write_lock.close()
        self.engine.dispose()
