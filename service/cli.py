"""The ``bdlopt`` command line: serve, job workers, API keys, studies, database migrations, OpenAPI export."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
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


def _database(settings, *, migrate: bool = True):
    from service.db import Database
    from service.db.migrate import upgrade

    database = Database(settings.resolved_database_url(), sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    if migrate:
        upgrade(database)
    return database


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

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
    app = create_app(settings, loopback=loopback)
    uvicorn.run(app, host=args.host, port=args.port, log_level=settings.log_level.lower(), log_config=None)
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    from service.auth.keys import create_key

    database = _database(_settings(args))
    key, info = create_key(database, args.name, admin=args.admin)
    database.dispose()
    print(key)
    print(f"created key {info.prefix} for principal '{info.principal}'{' (admin)' if info.is_admin else ''}; "
          "it is shown only now: store it safely", file=sys.stderr)
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from service.auth.keys import list_keys

    database = _database(_settings(args))
    rows = list_keys(database)
    database.dispose()
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
        print(f"no key with id or prefix '{args.key}'", file=sys.stderr)
        return 1
    finally:
        database.dispose()
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
    keys_create.add_argument("--database-url", help="overrides BDLOPT_DATABASE_URL")
    keys_create.set_defaults(handler=_keys_create)
    keys_list = keys_commands.add_parser("list", help="list keys (without secrets)")
    keys_list.add_argument("--database-url", help="overrides BDLOPT_DATABASE_URL")
    keys_list.set_defaults(handler=_keys_list)
    keys_revoke = keys_commands.add_parser("revoke", help="revoke a key by id or prefix")
    keys_revoke.add_argument("key", help="the key's id or prefix (see `bdlopt keys list`)")
    keys_revoke.add_argument("--database-url", help="overrides BDLOPT_DATABASE_URL")
    keys_revoke.set_defaults(handler=_keys_revoke)

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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
