"""One lock per study for the compute phase of suggest, within this process.

Two suggests on one study in one process would otherwise both fit the same model for
nothing; with the lock the second waits, then finds the first one's state in the database
(same data: no refit) and only optimises the acquisition. Suggests on different studies never
wait for each other. Across processes the study version check in ``suggest`` keeps results
correct; the locks only avoid wasted work (see ``suggest``'s module docstring for why no
database lock is held instead).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

_LOCKS: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_GUARD = threading.Lock()


@contextmanager
def study_compute_lock(study_id: str) -> Iterator[None]:
    """Hold this process's compute lock of ``study_id`` (created on first use, freed when unused)."""
    with _GUARD:
        lock = _LOCKS.get(study_id)
        if lock is None:
            lock = threading.Lock()
            _LOCKS[study_id] = lock
    with lock:
        yield
