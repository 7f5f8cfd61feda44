"""A study name is unique per owner (so a study can be resumed by its name).

Databases made before this rule may hold several studies of one owner with the same name. The
oldest keeps the name (ordered by ``created_at``, then ``id``); each later one is renamed
``<name> (2)``, ``<name> (3)``, ... (a suffix already taken is skipped), so the upgrade is deterministic
and loses nothing. Names are cut to fit the 256-character column before the suffix is added.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME_LENGTH = 256


def _deduplicate_names(connection: sa.Connection) -> None:
    studies = sa.table("studies", sa.column("id", sa.String), sa.column("name", sa.String),
                       sa.column("owner", sa.String), sa.column("created_at", sa.DateTime))
    rows = connection.execute(
        sa.select(studies.c.id, studies.c.name, studies.c.owner).order_by(
            studies.c.owner, studies.c.name, studies.c.created_at, studies.c.id)
    ).all()
    taken = {(row.owner, row.name) for row in rows}
    seen: set[tuple[str, str]] = set()
    for row in rows:
        key = (row.owner, row.name)
        if key not in seen:
            seen.add(key)
            continue
        number = 2
        while True:
            suffix = f" ({number})"
            candidate = row.name[: NAME_LENGTH - len(suffix)] + suffix
            if (row.owner, candidate) not in taken:
                break
            number += 1
        taken.add((row.owner, candidate))
        connection.execute(sa.update(studies).where(studies.c.id == row.id).values(name=candidate))


def upgrade() -> None:
    _deduplicate_names(op.get_bind())
    # A unique index, not a constraint: on SQLite a constraint means rebuilding the table, and dropping the
    # old studies table would cascade-delete every trial.
    op.create_index("uq_studies_owner_name", "studies", ["owner", "name"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_studies_owner_name", table_name="studies")
