"""Run the services of docker-compose.yml as local processes (no Docker engine on these machines).

Each service built from our images (bootstrap, api, worker) runs its compose ``command`` with its
compose ``environment``, in ``depends_on`` order, with only what points at the containers' world
rewritten for this host: the database and broker URLs (the local PostgreSQL and Redis), the ``/data``
volume (a temporary directory), the published port (a free one), and a unique queue prefix so that
other workers on the shared Redis do not take these jobs. ``postgres`` and ``redis`` are the local
servers. One-shot services (``restart: "no"``) must exit 0 before their dependants start.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from tests.live_server import wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL = {"postgres", "redis"}  # provided by the host in tests
_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus Compose's ``!reset`` and ``!override`` merge tags."""


def _reset(loader, node):
    return None


def _override(loader, node):
    return loader.construct_mapping(node, deep=True) if isinstance(node, yaml.MappingNode) else \
        loader.construct_sequence(node, deep=True)


ComposeLoader.add_constructor("!reset", _reset)
ComposeLoader.add_constructor("!override", _override)


def load_compose(*names: str) -> dict:
    """The merged compose model of ``names`` (later files override earlier ones, as ``-f a -f b``)."""
    merged: dict = {}
    for name in names:
        document = yaml.load((ROOT / name).read_text(), Loader=ComposeLoader)  # noqa: S506 - safe loader subclass
        merged = _merge(merged, document)
    return merged


def _merge(base, override):
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if value is None and key in merged:
                merged.pop(key)  # !reset
            else:
                merged[key] = _merge(merged.get(key), value)
        return merged
    return override


def start_order(services: dict) -> list[str]:
    """Service names, dependencies first."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...] = ()) -> None:
        if name in order:
            return
        if name in path:
            raise ValueError(f"depends_on cycle: {' -> '.join((*path, name))}")
        for dependency in services[name].get("depends_on", {}):
            visit(dependency, (*path, name))
        order.append(name)

    for name in services:
        visit(name)
    return order


class ComposeAsProcesses:
    """The compose services as processes on this host (see the module docstring)."""

    def __init__(self, compose: dict, tmp: Path, *, database_url: str, broker_url: str, queue_prefix: str,
                 port: int) -> None:
        self.services = compose["services"]
        self.tmp = tmp
        self.data = tmp / "data"
        self.data.mkdir()
        self.port = port
        self.host_env = {"BDLOPT_DATABASE_URL": database_url, "BDLOPT_BROKER_URL": broker_url,
                         "BDLOPT_DATA_DIR": str(self.data), "BDLOPT_CELERY_QUEUE_PREFIX": queue_prefix,
                         "BDLOPT_TORCH_THREADS": "1"}
        self.running: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def environment(self, name: str) -> dict[str, str]:
        """The service's compose environment (defaults of ``${VAR:-default}`` applied), rewritten for this host."""
        environment = self.services[name].get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        resolved = {key: _DEFAULTED.sub(r"\2", str(value)) for key, value in environment.items()}
        return {**resolved, **self.host_env}

    def argv(self, name: str) -> list[str]:
        """The service's command with the volume path and the published port rewritten."""
        command = self.services[name]["command"]
        argv = [arg.replace("/data", str(self.data)) for arg in command]
        if "--port" in argv:
            argv[argv.index("--port") + 1] = str(self.port)
        assert argv[0] == "bdlopt", argv
        return [sys.executable, "-m", "service.cli", *argv[1:]]

    def run_once(self, name: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run a one-shot service to completion."""
        return subprocess.run(self.argv(name), cwd=ROOT, env={**os.environ, **self.environment(name)},
                              capture_output=True, text=True, timeout=timeout)

    def start(self, name: str) -> subprocess.Popen:
        """Start a long-running service in its own process group, logging to a file."""
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        with log.open("w") as handle:
            process = subprocess.Popen(self.argv(name), cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                       env={**os.environ, **self.environment(name), "PYTHONUNBUFFERED": "1"},
                                       start_new_session=True)
        self.running[name] = process
        return process

    def up(self, ready_timeout: float = 120) -> list[str]:
        """Start every service in dependency order: one-shots must exit 0, the API must get ready."""
        started = []
        for name in start_order(self.services):
            if name in EXTERNAL:
                continue
            if self.services[name].get("restart") == "no":
                result = self.run_once(name)
                assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
            else:
                self.start(name)
                if "ports" in self.services[name]:
                    self.wait_ready(name, ready_timeout)
            started.append(name)
        return started

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, name: str, timeout: float) -> None:
        wait_until_ready(self.running[name], self.base_url, timeout, lambda: f"{name}: {self.log_tail(name)}")

    def log_tail(self, name: str, chars: int = 4000) -> str:
        log = self.logs.get(name)
        return log.read_text(errors="replace")[-chars:] if log and log.exists() else ""

    def down(self) -> None:
        """SIGTERM each process group (reverse order), SIGKILL what does not stop."""
        for name, process in reversed(list(self.running.items())):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
