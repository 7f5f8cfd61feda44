"""Run the real server (``bdlopt serve``) in a subprocess for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """An unused TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until_ready(process: subprocess.Popen, base_url: str, timeout: float,
                     output: Callable[[], str] = lambda: "") -> None:
    """Block until ``base_url/readyz`` answers 200; RuntimeError (with ``output()``, the process's
    last words) if ``process`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{output()}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not become ready in {timeout:g} s:\n{output()}")
        time.sleep(0.2)


class ServerProcess:
    """A started ``bdlopt serve`` subprocess.

    Its output goes to a temporary log file (``output()``), never to a pipe: a busy server writes a
    log line per request and would block once an unread pipe is full. ``kill`` then ``start`` brings
    it back on the same port and database.
    """

    def __init__(self, database_url: str, port: int | None = None, extra_env: dict | None = None,
                 host: str = "127.0.0.1", args: Sequence[str] = ()) -> None:
        self.port = port or free_port()
        self.host = host
        self.args = list(args)  # more ``bdlopt serve`` arguments, e.g. ``--workers 2``
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "BDLOPT_DATABASE_URL": database_url, "BDLOPT_TORCH_THREADS": "1",
                    **(extra_env or {})}
        self.log = tempfile.NamedTemporaryFile(prefix=f"bdlopt-serve-{self.port}-", suffix=".log", delete=False)
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        """Start the process (again, after ``kill`` or ``stop``): same port, same database."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the server is still running")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--host", self.host, "--port", str(self.port), *self.args],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, text=True,
        )

    def output(self) -> str:
        """Everything the process (and its earlier runs) printed."""
        return Path(self.log.name).read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until ``/readyz`` answers 200 (RuntimeError if the process dies or times out)."""
        wait_until_ready(self.process, self.base_url, timeout, lambda: self.output()[-4000:])

    def stop(self) -> None:
        """Terminate politely, kill if it does not stop."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Stop the process and delete its log file."""
        self.stop()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@contextmanager
def live_server(database_url: str, port: int | None = None, extra_env: dict | None = None,
                timeout: float = 60.0, args: Sequence[str] = ()) -> Iterator[str]:
    """Serve on 127.0.0.1:port until the block ends (``args``: more ``bdlopt serve`` arguments); yields the
    base URL."""
    server = ServerProcess(database_url, port, extra_env, args=args)
    try:
        server.wait_ready(timeout)
        yield server.base_url
    finally:
        server.close()
