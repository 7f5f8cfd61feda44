"""Completed trials per second over HTTP, against Optuna's RDB storage in the same run.

bdlopt: a ``random`` study (two float parameters), ``--clients`` client threads each looping
suggest -> observe for ``--seconds``, on SQLite with one ``bdlopt serve`` process and on PostgreSQL
with one and with two processes (clients spread over them); ``-wN`` configurations run one
``bdlopt serve --workers N`` (N processes on one port) instead. Rate limits are off (local mode).
Optuna: ``RandomSampler`` on ``RDBStorage`` over SQLite, in this process, one thread, ask -> two
``suggest_float`` -> tell for the same number of seconds, once before and once after the bdlopt
configurations (the ratio uses their mean: on a shared machine the load drifts during a run).
Prints a markdown table with the ratio.

``--configs`` may add ``ceiling``: the same client loop against ``benchmarks.http_ceiling_app``, a
FastAPI app with the same routes and body shapes that stores nothing, served by uvicorn in one
process like ``bdlopt serve``. Its rate is what HTTP alone allows on this machine; bdlopt's rate
over it is the share of the time left to the server's own work.

    nice -n 10 python -m benchmarks.throughput [--seconds 15] [--clients 16] [--configs sqlite,sqlite-w2,postgres,postgres-x2]

PostgreSQL comes from BDLOPT_BENCH_POSTGRES_URL (default: the local server, user postgres); a
database is created for each configuration and dropped after it. Optuna is in the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.live_server import ROOT, ServerProcess, free_port, wait_until_ready
from tests.multi_server import server_group

SPACE = [{"name": "x", "type": "float", "low": -5.0, "high": 10.0}, {"name": "y", "type": "float", "low": 0.0, "high": 15.0}]
POSTGRES_ADMIN = os.environ.get("BDLOPT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SERVER_ENV = {"BDLOPT_LOG_LEVEL": "WARNING"}


def _objective(params: dict) -> float:
    return (params["x"] - 2.0) ** 2 + (params["y"] - 3.0) ** 2


def drive(base_urls: list[str], clients: int, seconds: float, seed: int) -> tuple[int, float, int]:
    """Loop suggest -> observe from ``clients`` threads; returns (completed trials, seconds, errors)."""
    study = httpx.post(f"{base_urls[0]}/v1/studies", timeout=60, json={
        "name": "throughput", "parameters": SPACE, "objectives": [{"name": "f"}], "surrogate": "random",
        "seed": seed})
    study.raise_for_status()
    sid = study.json()["id"]
    completed = [0] * clients
    errors = [0] * clients
    barrier = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(index: int) -> None:
        with httpx.Client(base_url=base_urls[index % len(base_urls)], timeout=120) as http:
            barrier.wait()
            while not stop.is_set():
                suggested = http.post(f"/v1/studies/{sid}/suggest", json={})
                if suggested.status_code != 200:
                    errors[index] += 1
                    continue
                trial = suggested.json()["trials"][0]
                observed = http.post(f"/v1/studies/{sid}/observe",
                                     json={"trial_id": trial["id"], "values": {"f": _objective(trial["params"])}})
                if observed.status_code == 200:
                    completed[index] += 1
                else:
                    errors[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    done_at = sum(completed)
    elapsed = time.perf_counter() - started
    for thread in threads:
        thread.join()
    return done_at, elapsed, sum(errors)


def optuna_rate(seconds: float, seed: int, directory: Path) -> tuple[int, float]:
    """Optuna ask/tell on RDB (SQLite) in this thread: (completed trials, seconds)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directory.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.RDBStorage(f"sqlite:///{directory / 'optuna.db'}")
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=seed))
    completed = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        trial = study.ask()
        params = {"x": trial.suggest_float("x", -5.0, 10.0), "y": trial.suggest_float("y", 0.0, 15.0)}
        study.tell(trial, _objective(params))
        completed += 1
    return completed, time.perf_counter() - started


@contextmanager
def ceiling_server() -> Iterator[str]:
    """``benchmarks.http_ceiling_app`` served by uvicorn in a subprocess; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "benchmarks.http_ceiling_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(process, url, timeout=60)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new PostgreSQL database for one configuration (dropped afterwards)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bdlopt_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                                    "AND pid <> pg_backend_pid()"), {"n": name})
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@contextmanager
def database_for(config: str, directory: Path) -> Iterator[str]:
    if config.startswith("sqlite"):
        yield f"sqlite:///{directory / f'{config}.db'}"
    else:
        with postgres_database() as url:
            yield url


def parse_config(config: str) -> tuple[str, str, int]:
    """``(storage, mode, processes)`` of ``sqlite``, ``postgres-x2``, ``sqlite-w2``, ...; mode "x" (separate
    processes) or "w" (uvicorn workers of one ``bdlopt serve``)."""
    storage, _, suffix = config.partition("-")
    if not suffix:
        return storage, "x", 1
    if suffix[0] not in "xw" or not suffix[1:].isdigit():
        raise SystemExit(f"--configs: unknown configuration {config!r}")
    return storage, suffix[0], int(suffix[1:])


@contextmanager
def servers(url: str, mode: str, processes: int) -> Iterator[list[str]]:
    """The base URLs of ``processes`` API processes on ``url``: separate ``bdlopt serve`` processes (mode "x")
    or one ``bdlopt serve --workers processes`` (mode "w")."""
    if mode == "w":
        server = ServerProcess(url, extra_env=SERVER_ENV, args=["--workers", str(processes)])
        try:
            server.wait_ready()
            wait_until_workers_idle(server.process.pid, processes)
            yield [server.base_url]
        finally:
            server.close()
    else:
        with server_group(url, count=processes, extra_env=SERVER_ENV) as group:
            yield group.base_urls


def wait_until_workers_idle(pid: int, workers: int, timeout: float = 120.0) -> None:
    """Block until the ``workers`` worker processes of ``pid`` have finished starting (their CPU time
    stops growing, read from ``/proc``). The first worker to be ready answers ``/readyz`` and would
    accept every connection the clients open while the others still import their libraries, and the
    clients keep their connections for the whole drive."""
    def cpu_seconds(child: str) -> float:
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    deadline = time.monotonic() + timeout
    previous: dict[str, float] = {}
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        now = {child: cpu_seconds(child) for child in children}
        busy = [child for child in children if now[child] - previous.get(child, -1.0) > 0.02]
        if len(children) > workers and not busy:  # the workers and uvicorn's resource tracker
            return
        previous = now
        time.sleep(0.5)
    raise RuntimeError(f"the {workers} workers of process {pid} did not settle within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per configuration")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--configs", default="sqlite,sqlite-w2,postgres,postgres-w2",
                        help="comma-separated: sqlite, sqlite-x2, sqlite-w2, postgres, postgres-x2, postgres-w2 (-xN: "
                             "N `bdlopt serve` processes on N ports, the clients spread over them; -wN: one "
                             "`bdlopt serve --workers N`), ceiling (the no-op app: HTTP alone)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        optuna_runs = [optuna_rate(args.seconds, args.seed, directory / "before")]
        print(f"  optuna RDB sqlite: {optuna_runs[0][0] / optuna_runs[0][1]:.1f} trials/s", flush=True)
        for config in args.configs.split(","):
            if config == "ceiling":
                with ceiling_server() as url:
                    done, seconds, errors = drive([url], args.clients, args.seconds, args.seed)
                rate = done / seconds
                rows.append((f"no-op FastAPI app over HTTP (the ceiling), {args.clients} clients", "none", 1, done,
                             seconds, errors, rate))
                print(f"  ceiling: {rate:.1f} trials/s ({errors} errors)", flush=True)
                continue
            storage, mode, processes = parse_config(config)
            with database_for(config, directory) as url, servers(url, mode, processes) as base_urls:
                done, seconds, errors = drive(base_urls, args.clients, args.seconds, args.seed)
            rate = done / seconds
            how = f", `bdlopt serve --workers {processes}`" if mode == "w" else ""
            rows.append((f"bdlopt over HTTP, {args.clients} clients{how}", storage, processes, done, seconds, errors,
                         rate))
            print(f"  {config}: {rate:.1f} trials/s ({errors} errors)", flush=True)
        optuna_runs.append(optuna_rate(args.seconds, args.seed, directory / "after"))
        for when, (trials, elapsed) in zip(("before", "after"), optuna_runs):
            rows.append((f"Optuna RDBStorage in process, 1 thread ({when})", "sqlite", 1, trials, elapsed, 0,
                         trials / elapsed))
    optuna_per_second = sum(trials / elapsed for trials, elapsed in optuna_runs) / len(optuna_runs)
    print(f"\nCompleted trials per second, random policy, 2 float parameters, seed {args.seed}, "
          f"{args.seconds:g} s per configuration; ratios against Optuna's mean of {optuna_per_second:.1f} trials/s\n")
    print("| system | storage | API processes | trials | seconds | errors | trials/s | vs Optuna |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for system, storage, processes, done, seconds, errors, rate in rows:
        print(f"| {system} | {storage} | {processes} | {done} | {seconds:.1f} | {errors} | {rate:.1f} | "
              f"{rate / optuna_per_second:.2f}x |")


if __name__ == "__main__":
    main()
