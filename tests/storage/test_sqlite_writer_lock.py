"""The SQLite writers' queue: mutual exclusion across threads and processes, reentrancy, release on errors."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from service.db.sqlite_writer_lock import SQLiteWriterLock, fcntl

ROUNDS = 60


def _bump(lock: SQLiteWriterLock, counter: Path, rounds: int) -> None:
    """Read-modify-write a counter file under the lock, with a pause that invites interleaving."""
    for _ in range(rounds):
        with lock:
            value = int(counter.read_text())
            time.sleep(0.0005)
            counter.write_text(str(value + 1))


def _bump_in_process(database: str, counter: str, rounds: int) -> None:
    _bump(SQLiteWriterLock(database), Path(counter), rounds)


@pytest.mark.skipif(fcntl is None, reason="flock is POSIX only")
def test_processes_and_threads_never_write_at_once(tmp_path):
    database = str(tmp_path / "study.db")
    counter = tmp_path / "counter"
    counter.write_text("0")
    lock = SQLiteWriterLock(database)  # held by this process's threads, forked children open their own
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_bump_in_process, args=(database, str(counter), ROUNDS)) for _ in range(2)]
    threads = [threading.Thread(target=_bump, args=(lock, counter, ROUNDS)) for _ in range(2)]
    for worker in [*children, *threads]:
        worker.start()
    for worker in [*children, *threads]:
        worker.join(60)
    assert [child.exitcode for child in children] == [0, 0]
    assert int(counter.read_text()) == 4 * ROUNDS  # no update lost: no two writers overlapped
    assert Path(f"{database}-writers.lock").exists()


@pytest.mark.skipif(fcntl is None, reason="flock is POSIX only")
def test_the_lock_is_reentrant_and_released_when_the_block_raises(tmp_path):
    database = str(tmp_path / "study.db")
    lock, other = SQLiteWriterLock(database), SQLiteWriterLock(database)
    with lock:
        with lock:  # the same thread again: no deadlock
            pass
        # still held (the outer block): another descriptor on the file cannot take it
        assert not _try_flock(other)
    with pytest.raises(RuntimeError):
        with lock:
            raise RuntimeError("the transaction failed")
    assert _try_flock(other)  # released by the failed block


def _try_flock(lock: SQLiteWriterLock) -> bool:
    descriptor = lock._descriptor()
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(descriptor, fcntl.LOCK_UN)
    return True


def test_an_in_memory_database_needs_no_lock_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lock = SQLiteWriterLock(None)
    with lock, lock:
        pass
    assert list(tmp_path.iterdir()) == []
