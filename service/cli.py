"""The ``bdlopt`` command line: serve, job workers, API keys, studies, database migrations, OpenAPI export."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path

from service.cli_studies import add_studies_commands

DEFAULT_OPENAPI = Path("openapi") / "openapi.json"


def _settings(args: argparse.Namespace):
    from service.config import Settings

    overrides = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    if getattr(args, "broker_url", None):
        overrides["broker_url"] = args.broker_url
    return Settings(**overrides)


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serving_banner(host: str, port: int) -> str:
    """The plain-words line ``bdlopt serve`` prints before its (JSON) log lines."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    where = f"http://{shown}:{port}"
    scope = " (all interfaces)" if shown != host else ""
    return f"bdlopt serves on {where}{scope}; API documentation: {where}/docs; Ctrl-C stops it"


def _database(settings, *, migrate: bool = True):
    from service.db import Database
    from service.db.migrate import upgrade

    database = Database(settings.resolved_database_url(), sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    if migrate:
        upgrade(database)
    return database


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.workers < 1:
        print(f"--workers: must be at least 1, got {args.workers}", file=sys.stderr)
        return 2

    from service.api.app import create_app
    from service.auth.keys import active_key_count
    from service.observability.logs import configure_logging

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_json)
    loopback = is_loopback(args.host)
    # Migrate here (once) when start-up migration is on: counting keys needs the current schema.
    database = _database(settings, migrate=settings.migrate_on_startup)
    keys = active_key_count(database)
    database.dispose()
    settings = settings.model_copy(update={"migrate_on_startup": False})
    if keys == 0 and not loopback:
        print(
            f"refusing to serve on {args.host}: no API key exists, so anyone who can reach the port could use it.\n"
            "Create a key first:  bdlopt keys create --name <you> --admin\n"
            "or serve on a loopback address (127.0.0.1) for local mode.",
            file=sys.stderr,
        )
        return 2
    if keys == 0:
        logging.getLogger("service.cli").warning(
            "no API key exists: local mode, every request acts as the 'local' principal (loopback only)"
        )
    print(serving_banner(args.host, args.port), file=sys.stderr, flush=True)
    if args.workers > 1:
        # uvicorn starts each worker process afresh; they read what they need from the environment
        from service.api.app import SERVE_LOOPBACK_ENV

        os.environ.update({"BDLOPT_DATABASE_URL": settings.resolved_database_url(),
                           "BDLOPT_MIGRATE_ON_STARTUP": "false", SERVE_LOOPBACK_ENV: "1" if loopback else "0"})
        uvicorn.run("service.api.app:create_app_for_worker", factory=True, workers=args.workers, host=args.host,
                    port=args.port, log_level=settings.log_level.lower(), log_config=None)
        return 0
    app = create_app(settings, loopback=loopback)
    uvicorn.run(app, host=args.host, port=args.port, log_level=settings.log_level.lower(), log_config=None)
    return 0


def _emit_json(payload) -> None:
    print(json.dumps(payload, indent=2, default=str))


def _key_json(info) -> dict:
    return {"id": info.id, "name": info.name, "principal": info.principal, "prefix": info.prefix,
            "admin": info.is_admin, "created_at": info.created_at, "revoked_at": info.revoked_at}


def _keys_create(args: argparse.Namespace) -> int:
    from service.auth.keys import active_key_count, create_key
    from service.auth.ownership import owned_counts, transfer_ownership

    database = _database(_settings(args))
    try:
        first_key = active_key_count(database) == 0
        if args.if_no_keys and not first_key:
            print("an active key exists already: none created (`bdlopt keys list` shows them)", file=sys.stderr)
            return 0
        key, info = create_key(database, args.name, admin=args.admin)
        local = owned_counts(database)
        adopted = transfer_ownership(database, info.principal) if args.adopt_local and local.total else None
    finally:
        database.dispose()
    if args.output:
        try:
            _write_secret(Path(args.output), key)
        except OSError:
            _revoke_unsaved(args, info.id)
            raise
        shown = f"written to {args.output} (readable by its owner only)"
    if args.json:
        secret = {"key_file": args.output} if args.output else {"key": key}
        _emit_json({**secret, **_key_json(info), "adopted_from_local": asdict(adopted) if adopted else None})
        return 0
    if not args.output:
        print(key)  # stdout holds only the key: KEY=$(bdlopt keys create --name alice)
        shown = "it is shown only now: store it safely"
    note = [f"created key {info.prefix} for principal '{info.principal}'{' (admin)' if info.is_admin else ''}; "
            f"{shown}."]
    if first_key:
        note.append("This is the first key: local mode is off, requests without a key now get 401.")
    if adopted:
        note.append(f"'{info.principal}' now owns what local mode created: {adopted.describe()}.")
    elif local.total:
        note.append(f"Local mode created {local.describe()}; they belong to 'local', which no key acts as, so "
                    f"only admin keys see them. To hand them to '{info.principal}':\n"
                    f"  bdlopt keys adopt-local --to {info.principal}   (or use --adopt-local with keys create)")
    print("\n".join(note), file=sys.stderr)
    return 0


def _revoke_unsaved(args: argparse.Namespace, key_id: str) -> None:
    """Revoke a key whose file could not be written: nobody holds it, and it would block --if-no-keys."""
    from service.auth.keys import revoke_key

    database = _database(_settings(args), migrate=False)
    try:
        revoke_key(database, key_id)
    finally:
        database.dispose()


def _write_secret(path: Path, secret: str) -> None:
    """Write ``secret`` to a new file only its owner can read (replacing an old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")


def _keys_adopt_local(args: argparse.Namespace) -> int:
    from service.auth.ownership import transfer_ownership

    database = _database(_settings(args))
    try:
        moved = transfer_ownership(database, args.to)
    finally:
        database.dispose()
    if args.json:
        _emit_json(asdict(moved))
    else:
        print(f"'{args.to}' now owns {moved.describe()} that local mode created")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from service.auth.keys import list_keys

    database = _database(_settings(args))
    rows = list_keys(database)
    database.dispose()
    if args.json:
        _emit_json([_key_json(key) for key in rows])
        return 0
    if not rows:
        print("no keys: a server on 127.0.0.1 runs in local mode (create one with `bdlopt keys create --name NAME`)")
        return 0
    print(f"{'prefix':<14}{'name':<20}{'principal':<20}{'admin':<7}{'created':<22}revoked")
    for key in rows:
        revoked = key.revoked_at.strftime("%Y-%m-%d %H:%M") if key.revoked_at else "-"
        print(f"{key.prefix:<14}{key.name[:19]:<20}{key.principal[:19]:<20}{'yes' if key.is_admin else 'no':<7}"
              f"{key.created_at.strftime('%Y-%m-%d %H:%M'):<22}{revoked}")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from service.auth.keys import revoke_key

    database = _database(_settings(args))
    try:
        info = revoke_key(database, args.key)
    except KeyError:
        print("no such key: give the whole key, its prefix (as `bdlopt keys list` shows it) or its id",
              file=sys.stderr)
        return 1
    finally:
        database.dispose()
    if args.json:
        _emit_json(_key_json(info))
    else:
        print(f"revoked key {info.prefix} of principal '{info.principal}'")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from service.workers.celery_worker import run_worker

    settings = _settings(args)
    logging.getLogger().setLevel(settings.log_level.upper())
    queues = [name.strip() for name in args.queues.split(",") if name.strip()]
    run_worker(settings, queues=queues, concurrency=args.concurrency, gpus=args.gpus, pool=args.pool,
               loglevel=args.loglevel or settings.log_level.upper(), hostname=args.hostname)
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from service.db import Database
    from service.db.migrate import current_revision, upgrade

    settings = _settings(args)
    database = Database(settings.resolved_database_url(), sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    upgrade(database, args.revision)
    print(f"database at revision {current_revision(database)}")
    database.dispose()
    return 0


def openapi_document() -> dict:
    """The app's OpenAPI document (no database is touched)."""
    from service.api.app import create_app
    from service.config import Settings
    from service.db import Database

    app = create_app(Settings(migrate_on_startup=False), database=Database("sqlite://"))
    return app.openapi()


def _openapi(args: argparse.Namespace) -> int:
    text = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return 0


def _version() -> str:
    """``bdlopt X (bdlopt-client Y)``: the installed distributions' versions."""
    from importlib import metadata

    def of(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return f"bdlopt {of('bdlopt')} (bdlopt-client {of('bdlopt-client')})"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (tests check Docker commands against it)."""
    parser = argparse.ArgumentParser(prog="bdlopt", description="Bayesian optimisation service.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--database-url", help="overrides BDLOPT_DATABASE_URL")
    serve.add_argument("--workers", type=int, default=1,
                       help="API processes on the one port (default 1); each is GIL-bound, so a second one "
                            "nearly doubles the trials per second a random study takes on 2 or more cores")
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser("worker", help="run a Celery job worker (job_backend=celery)")
    worker.add_argument("--queues", default="gpu,cpu", help="comma-separated queues to consume: gpu, cpu")
    worker.add_argument("--concurrency", type=int, default=None,
                        help="worker processes (default: one per GPU on a gpu-queue node, else 1)")
    worker.add_argument("--gpus", default=None,
                        help="comma-separated GPU ids, one process each (default: CUDA_VISIBLE_DEVICES or nvidia-smi)")
    worker.add_argument("--pool", choices=["prefork", "solo", "threads"], default="prefork")
    worker.add_argument("--loglevel", default=None, help="Celery log level (default: BDLOPT_LOG_LEVEL)")
    worker.add_argument("--hostname", default=None, help="Celery node name (default: bdlopt-<pid>@<host>)")
    worker.add_argument("--database-url", help="overrides BDLOPT_DATABASE_URL")
    worker.add_argument("--broker-url", help="overrides BDLOPT_BROKER_URL")
    worker.set_defaults(handler=_worker)

    keys = commands.add_parser("keys", help="API keys (stored hashed; a new key is printed once)")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    keys_create = keys_commands.add_parser("create", help="create a key and print it")
    keys_create.add_argument("--name", required=True, help="the principal that owns what the key creates")
    keys_create.add_argument("--admin", action="store_true", help="the key sees and changes everything")
    keys_create.add_argument("--adopt-local", action="store_true",
                             help="hand the studies, datasets and jobs created in local mode to this principal")
    keys_create.add_argument("--if-no-keys", action="store_true",
                             help="create the key only when no active key exists (a deployment's first admin key)")
    keys_create.add_argument("--output", metavar="FILE",
                             help="write the key to FILE (mode 600) instead of printing it")
    keys_create.set_defaults(handler=_keys_create)
    keys_adopt = keys_commands.add_parser("adopt-local", help="hand what local mode created to a principal")
    keys_adopt.add_argument("--to", required=True, help="the principal (a key's --name)")
    keys_adopt.set_defaults(handler=_keys_adopt_local)
    keys_list = keys_commands.add_parser("list", help="list keys (without secrets)")
    keys_list.set_defaults(handler=_keys_list)
    keys_revoke = keys_commands.add_parser("revoke", help="revoke a key by the whole key, its prefix or its id")
    keys_revoke.add_argument("key", help="the whole key, its prefix (bdl_<prefix> or <prefix>, see `bdlopt keys list`) "
                                         "or its id")
    keys_revoke.set_defaults(handler=_keys_revoke)
    for command in (keys_create, keys_adopt, keys_list, keys_revoke):
        command.add_argument("--database-url", help="overrides BDLOPT_DATABASE_URL")
        command.add_argument("--json", action="store_true", help="print JSON instead of text")

    db = commands.add_parser("db", help="study database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="apply Alembic migrations")
    db_upgrade.add_argument("--database-url", help="overrides BDLOPT_DATABASE_URL")
    db_upgrade.add_argument("--revision", default="head")
    db_upgrade.set_defaults(handler=_db_upgrade)

    add_studies_commands(commands, _database, _settings)

    openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", default=str(DEFAULT_OPENAPI), help="file path or - for stdout")
    openapi.set_defaults(handler=_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bdlopt`` console script."""
    # Quiet by default (no Alembic INFO lines around `keys create`); serve and worker set their own level.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
