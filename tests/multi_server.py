"""Several ``bdlopt serve`` processes on one database, for scale-out tests and benchmarks.

    with server_group(postgres_url, count=2) as group:
        group.base_urls            # ["http://127.0.0.1:p1", "http://127.0.0.1:p2"]
        group.kill(0)              # SIGKILL one process mid-run (no shutdown code runs)
        group.restart(0)           # start it again on the same port, wait until it is ready

The first process applies the migrations and is ready before the others start (with start-up
migration off), so no two processes ever migrate the same database at once. Each process logs to
its own file (``group.servers[i].output()``), shown when a process fails to start.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from tests.live_server import ServerProcess


class ServerGroup:
    """``count`` started and ready ``bdlopt serve`` processes sharing ``database_url``.

    Args:
        database_url: the shared database (PostgreSQL for real scale-out; SQLite works on one host).
        count: how many processes.
        ports: their ports (default: free ones).
        extra_env: environment added to every process (``BDLOPT_*`` settings).
        timeout: seconds each process may take to become ready.
    """

    def __init__(self, database_url: str, count: int = 2, ports: Sequence[int] | None = None,
                 extra_env: dict | None = None, timeout: float = 90.0) -> None:
        if ports is not None and len(ports) != count:
            raise ValueError(f"{count} processes need {count} ports, got {list(ports)}")
        self.timeout = timeout
        self.servers: list[ServerProcess] = []
        env = dict(extra_env or {})
        try:
            for index in range(count):
                follower_env = env if index == 0 else {**env, "BDLOPT_MIGRATE_ON_STARTUP": "false"}
                server = ServerProcess(database_url, ports[index] if ports else None, follower_env)
                self.servers.append(server)
                server.wait_ready(timeout)
        except BaseException:
            self.close()
            raise

    @property
    def base_urls(self) -> list[str]:
        """The base URL of every process, in order."""
        return [server.base_url for server in self.servers]

    def kill(self, index: int) -> None:
        """SIGKILL process ``index``."""
        self.servers[index].kill()

    def restart(self, index: int) -> None:
        """Start process ``index`` again (after ``kill``) and wait until it is ready."""
        server = self.servers[index]
        if server.process.poll() is None:
            server.stop()
        server.start()
        server.wait_ready(self.timeout)

    def close(self) -> None:
        """Stop every process and delete their logs."""
        for server in self.servers:
            server.close()


@contextmanager
def server_group(database_url: str, count: int = 2, ports: Sequence[int] | None = None,
                 extra_env: dict | None = None, timeout: float = 90.0) -> Iterator[ServerGroup]:
    """Serve ``count`` processes on ``database_url`` until the block ends."""
    group = ServerGroup(database_url, count, ports, extra_env, timeout)
    try:
        yield group
    finally:
        group.close()
