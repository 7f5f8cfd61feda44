"""A local journal of evaluated results, so an evaluation is never lost.

``optimize`` appends each result (an observation or a failure of a trial) to a small JSON-lines file
and flushes it to disk (``fsync``) *before* sending it, then appends an acknowledgement once the
server answered. A later run replays every entry without an acknowledgement first. Together with the
server's idempotent ``observe``/``fail`` (a repeat of an applied call answers 200), killing the
client, the server or the network at any moment loses no evaluation and records none twice.

Hand-written on purpose: the journal needs only append + fsync + replay of a few lines per study, and
a file per (server, study, client id) that a user can read; sqlite3 would work too but adds locking
rules to explain and a file format people cannot inspect.

The default location is the user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux,
``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows) under ``bdlopt/journal``; the
environment variable :data:`JOURNAL_DIR_ENV` moves it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

#: Environment variable naming the directory of the journal files.
JOURNAL_DIR_ENV = "BDLOPT_JOURNAL_DIR"


def default_journal_dir() -> Path:
    """``<user cache dir>/bdlopt/journal``, or ``$BDLOPT_JOURNAL_DIR``."""
    configured = os.environ.get(JOURNAL_DIR_ENV)
    if configured:
        return Path(configured)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "bdlopt" / "journal"


def journal_file_name(base_url: str, study_id: str, client_id: str) -> str:
    """One file per server, study and client id (hashed: URLs and ids may hold any character)."""
    digest = hashlib.sha256(f"{base_url}\0{study_id}\0{client_id}".encode()).hexdigest()[:24]
    return f"{study_id[:40]}-{digest}.jsonl"


@dataclasses.dataclass(frozen=True)
class JournalEntry:
    """One evaluated result not yet known to be recorded by the server.

    ``kind`` is ``"observe"`` (``values`` set) or ``"fail"`` (``reason`` set).
    """

    trial_id: str
    kind: str
    values: dict[str, float] | None = None
    reason: str | None = None


class Journal:
    """The append-only journal file of one optimisation (thread-safe).

    Args:
        path: the JSON-lines file; created with its directory on the first write.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, entry: JournalEntry) -> None:
        """Append ``entry`` and flush it to disk before returning."""
        self._append({"op": "result", **{k: v for k, v in dataclasses.asdict(entry).items() if v is not None}})

    def acknowledge(self, trial_id: str) -> None:
        """The server recorded the result of ``trial_id``: it is not replayed again."""
        self._append({"op": "ack", "trial_id": trial_id})

    def pending(self) -> list[JournalEntry]:
        """Results without an acknowledgement, in the order they were recorded (a torn last line is skipped)."""
        results: dict[str, JournalEntry] = {}
        with self._lock:
            if not self.path.exists():
                return []
            lines = self.path.read_text(encoding="utf-8").splitlines()
        for line in lines:
            try:
                item = json.loads(line)
            except ValueError:
                continue  # a write cut short by a crash: its result was never sent, fn runs again
            if item.get("op") == "result":
                results[item["trial_id"]] = JournalEntry(item["trial_id"], item["kind"], item.get("values"),
                                                         item.get("reason"))
            elif item.get("op") == "ack":
                results.pop(item.get("trial_id"), None)
        return list(results.values())

    def compact(self) -> None:
        """Rewrite the file with only the unacknowledged results (remove it when there are none)."""
        remaining = self.pending()
        with self._lock:
            if not remaining:
                self.path.unlink(missing_ok=True)
                return
            temporary = self.path.with_suffix(".tmp")
            with temporary.open("w", encoding="utf-8") as handle:
                for entry in remaining:
                    fields = {k: v for k, v in dataclasses.asdict(entry).items() if v is not None}
                    handle.write(json.dumps({"op": "result", **fields}) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)

    def __getstate__(self) -> dict[str, Any]:  # sent to worker processes: the lock stays behind
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._lock = threading.Lock()

    def _append(self, item: dict[str, Any]) -> None:
        line = (json.dumps(item, allow_nan=False) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as handle:
                handle.seek(0, os.SEEK_END)
                if handle.tell() > 0:  # a line torn by a crash must not swallow this one
                    handle.seek(-1, os.SEEK_END)
                    if handle.read(1) != b"\n":
                        line = b"\n" + line
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
