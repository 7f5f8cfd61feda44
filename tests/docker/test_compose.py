"""Static checks of docker-compose.yml and the Dockerfiles against the app (no Docker engine here).

Services, GPU reservation (and its removal by the no-GPU override), the key bootstrap, named volumes,
health checks; every ``BDLOPT_*`` variable is a real setting with a valid value; every command is a
real ``bdlopt`` CLI command; the images install the torch release pinned in pyproject.toml from the
right PyTorch index. Where the Docker client with Compose exists, ``docker compose config`` validates
both variants.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from service.cli import build_parser
from service.config import Settings
from tests.docker.compose_processes import load_compose

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = load_compose("docker-compose.yml")
SERVICES = COMPOSE["services"]
CPU_VARIANT = ("docker-compose.yml", "docker-compose.cpu.yml")
BUILT = ("bootstrap", "api", "worker")
DOCKERFILES = {"api": ROOT / "docker" / "api.Dockerfile", "worker": ROOT / "docker" / "worker.Dockerfile"}
_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def _bdlopt_env(service: dict) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items() if key.startswith("BDLOPT_")}


def _torch_pin() -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(dep for dep in dependencies if dep.startswith("torch=="))


def test_the_stack_has_postgres_redis_bootstrap_api_and_worker() -> None:
    assert set(SERVICES) == {"postgres", "redis", "bootstrap", "api", "worker"}
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert SERVICES["redis"]["image"].startswith("redis:")
    for name in ("api", "worker"):
        build = SERVICES[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILES[name].resolve()
    assert SERVICES["bootstrap"]["build"] == SERVICES["api"]["build"]


def test_the_bootstrap_writes_a_first_admin_key_before_the_api_starts() -> None:
    bootstrap = SERVICES["bootstrap"]
    parsed = build_parser().parse_args(bootstrap["command"][1:])
    assert (parsed.command, parsed.keys_command, parsed.admin, parsed.if_no_keys) == ("keys", "create", True, True)
    assert parsed.output.startswith("/data/") and bootstrap["restart"] == "no"
    assert "bdlopt-data:/data" in bootstrap["volumes"]  # the API and the operator can read it there
    assert SERVICES["api"]["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"
    assert parsed.output in (ROOT / "docker-compose.yml").read_text().split("services:")[0]  # documented on top


def test_the_no_gpu_override_drops_the_reservation_and_runs_a_cpu_worker() -> None:
    services = load_compose(*CPU_VARIANT)["services"]
    worker = services["worker"]
    assert "deploy" not in worker and worker["build"]["dockerfile"] == "docker/api.Dockerfile"
    assert build_parser().parse_args(worker["command"][1:]).queues == "cpu"
    assert {name: services[name] for name in services if name != "worker"} == \
        {name: SERVICES[name] for name in SERVICES if name != "worker"}


def _docker_compose() -> list[str] | None:
    """``docker compose`` (or ``docker-compose``) when installed and working, else None."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) and subprocess.run([*command, "version"], capture_output=True).returncode == 0:
            return command
    return None


@pytest.mark.parametrize("files", [("docker-compose.yml",), CPU_VARIANT], ids=["gpu", "no-gpu"])
def test_docker_compose_config_validates(files) -> None:
    command = _docker_compose()
    if command is None:
        pytest.skip("no Docker Compose client here (neither `docker compose` nor `docker-compose` runs)")
    flags = [arg for name in files for arg in ("-f", str(ROOT / name))]
    result = subprocess.run([*command, *flags, "config", "--quiet"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_worker_reserves_nvidia_gpus() -> None:
    devices = SERVICES["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(device["driver"] == "nvidia" and "gpu" in device["capabilities"] for device in devices)


def test_every_bdlopt_variable_is_a_real_setting_with_a_valid_value() -> None:
    for name in BUILT:
        env = _bdlopt_env(SERVICES[name])
        fields = {key.removeprefix("BDLOPT_").lower(): _DEFAULTED.sub(r"\2", value) for key, value in env.items()}
        unknown = sorted(set(fields) - set(Settings.model_fields))
        assert not unknown, f"{name}: not settings: {unknown}"
        settings = Settings(**fields)
        assert settings.job_backend == "celery"
        assert settings.broker_url.startswith("redis://redis:")
        assert settings.resolved_database_url().startswith("postgresql+psycopg://") and "@postgres:" in \
            settings.resolved_database_url()


def test_every_command_is_a_real_cli_command() -> None:
    parser = build_parser()
    commands = [SERVICES[name]["command"] for name in ("api", "worker")]
    for path in DOCKERFILES.values():
        cmd = [args for keyword, args in _instructions(path) if keyword == "CMD"]
        assert len(cmd) == 1
        commands.append(json.loads(cmd[0]))
    for command in commands:
        argv = command if isinstance(command, list) else shlex.split(command)
        assert argv[0] == "bdlopt"
        parsed = parser.parse_args(argv[1:])  # SystemExit (a failure) on an unknown command or flag
        assert callable(parsed.handler)
    worker = parser.parse_args(SERVICES["worker"]["command"][1:])
    assert worker.command == "worker" and set(worker.queues.split(",")) == {"gpu", "cpu"}


def test_the_api_runs_migrations_and_is_checked_on_readyz() -> None:
    api = SERVICES["api"]
    fields = {k.removeprefix("BDLOPT_").lower(): v for k, v in _bdlopt_env(api).items()}
    assert Settings(**{**fields, "database_url": "sqlite://"}).migrate_on_startup
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert "8000:8000" in api["ports"]
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"
    assert SERVICES["worker"]["depends_on"]["api"]["condition"] == "service_healthy"  # migrated before workers
    healthcheck = [args for keyword, args in _instructions(DOCKERFILES["api"]) if keyword == "HEALTHCHECK"]
    assert healthcheck and "/readyz" in healthcheck[0]


def test_services_use_named_volumes_and_share_the_data_volume() -> None:
    declared = set(COMPOSE["volumes"])
    mounts = {}
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            assert source in declared, f"{name} mounts {source}, which is not a named volume"
            mounts[name, target] = source
    assert mounts["api", "/data"] == mounts["worker", "/data"]  # datasets and artifacts are shared
    assert ("postgres", "/var/lib/postgresql/data") in mounts and ("redis", "/data") in mounts


@pytest.mark.parametrize("name", ["api", "worker"])
def test_images_copy_existing_sources_and_install_the_pinned_torch(name: str) -> None:
    rows = _instructions(DOCKERFILES[name])
    for keyword, args in rows:
        if keyword == "COPY":
            *sources, _target = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"{name}: COPY {source} does not exist"
    runs = " ".join(args for keyword, args in rows if keyword == "RUN")
    pin = _torch_pin()
    match = re.search(r"--index-url (\S+) " + re.escape(pin), runs)
    assert match, f"{name}: no '--index-url <index> {pin}'"
    index = match.group(1)
    if name == "api":
        assert index == "https://download.pytorch.org/whl/cpu"
    else:
        base = dict((k, v) for k, v in rows if k == "FROM")["FROM"]
        args = dict(a.split("=", 1) for k, a in rows if k == "ARG" and "=" in a)
        assert base == "${CUDA_IMAGE}" and args["CUDA_IMAGE"].startswith("nvidia/cuda:")
        assert index == "${TORCH_INDEX}" and re.fullmatch(r"https://download\.pytorch\.org/whl/cu\d+",
                                                          args["TORCH_INDEX"])
    assert re.search(r"pip install \.", runs), f"{name}: the project itself is not installed"
