"""``bdlopt studies list | show | export | import``: studies straight from the study database.

Like ``bdlopt keys``, these commands open the database of the settings (or ``--database-url``) and act
as an administrator: every owner's studies are visible; ``--owner`` narrows a listing or a lookup by
name and sets the owner of an imported study.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_OWNER = "local"


def add_studies_commands(commands: argparse._SubParsersAction, database_opener, settings_of) -> None:
    """Register the ``studies`` command group; ``database_opener(settings)`` opens a migrated Database."""

    def run(handler):
        def command(args: argparse.Namespace) -> int:
            database = database_opener(settings_of(args))
            try:
                return handler(database, args)
            finally:
                database.dispose()
        return command

    studies = commands.add_parser("studies", help="list, show, export and import studies")
    group = studies.add_subparsers(dest="studies_command", required=True)
    listing = group.add_parser("list", help="studies with their trial counts, newest first")
    listing.add_argument("--owner", default=None, help="only this principal's studies (default: all)")
    listing.set_defaults(handler=run(_list))
    show = group.add_parser("show", help="one study (id or name) as JSON, with its best trial")
    show.add_argument("study", help="the study's id, or its name")
    show.add_argument("--owner", default=DEFAULT_OWNER, help="owner of a study given by name (default: local)")
    show.set_defaults(handler=run(_show))
    export = group.add_parser("export", help="write a study's export document (JSON)")
    export.add_argument("study", help="the study's id, or its name")
    export.add_argument("--owner", default=DEFAULT_OWNER, help="owner of a study given by name (default: local)")
    export.add_argument("--output", default="-", help="file path, or - for stdout")
    export.set_defaults(handler=run(_export))
    imported = group.add_parser("import", help="create a study from an export document")
    imported.add_argument("file", help="the export document (JSON), or - for stdin")
    imported.add_argument("--name", default=None, help="store the study under this name")
    imported.add_argument("--owner", default=DEFAULT_OWNER, help="owner of the new study (default: local)")
    imported.set_defaults(handler=run(_import))
    for parser in (listing, show, export, imported):
        parser.add_argument("--database-url", help="overrides BDLOPT_DATABASE_URL")


def _resolve(database, reference: str, owner: str) -> str:
    """The id of the study ``reference`` (an id, else a name of ``owner``); exits 1 when there is none."""
    from service.studies import catalog
    from service.errors import NotFoundError

    try:
        return catalog.get_study(database, reference).id
    except NotFoundError:
        page = catalog.list_studies(database, owner=owner, name=reference, limit=1)
        if page.items:
            return page.items[0].id
    raise SystemExit(f"no study with id or name '{reference}' (owner {owner})")


def _list(database, args: argparse.Namespace) -> int:
    from service.studies import catalog

    offset, rows = 0, []
    while True:
        page = catalog.list_studies(database, owner=args.owner, limit=500, offset=offset)
        rows += page.items
        offset += len(page.items)
        if not page.items or offset >= page.total:
            break
    print(f"{'id':32}  {'name':24}  {'surrogate':9}  completed  pending  failed  created")
    for study in rows:
        counts = study.trial_counts
        print(f"{study.id:32}  {study.name[:24]:24}  {study.surrogate:9}  {counts['completed']:9d}  "
              f"{counts['pending']:7d}  {counts['failed']:6d}  {study.created_at:%Y-%m-%d %H:%M}")
    return 0


def _show(database, args: argparse.Namespace) -> int:
    from service.studies import catalog, queries
    from service.errors import NotFoundError

    study = catalog.get_study(database, _resolve(database, args.study, args.owner))
    document = {key: value for key, value in study.__dict__.items()}
    document["created_at"] = study.created_at.isoformat()
    try:
        best = queries.best_trial(database, study.id)
        document["best"] = {"number": best.number, "params": best.params, "values": best.values}
    except NotFoundError:
        document["best"] = None
    print(json.dumps(document, indent=1))
    return 0


def _export(database, args: argparse.Namespace) -> int:
    from service.studies import export

    text = json.dumps(export.export_study(database, _resolve(database, args.study, args.owner)), indent=1)
    if args.output == "-":
        print(text)
    else:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _import(database, args: argparse.Namespace) -> int:
    from service.studies import export
    from service.errors import DomainError

    source = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    try:
        study = export.import_study(database, json.loads(source), owner=args.owner, name=args.name)
    except DomainError as error:
        raise SystemExit(f"import failed: {error.message}") from error
    print(f"imported study '{study.name}' as {study.id} ({sum(study.trial_counts.values())} trials)")
    return 0
