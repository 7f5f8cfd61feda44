"""Outcome constraints and linear parameter constraints of a study.

Both are JSON lists (empty for every existing study).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.add_column(sa.Column("outcome_constraints", sa.JSON(), server_default="[]", nullable=False))
        batch.add_column(sa.Column("parameter_constraints", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.drop_column("parameter_constraints")
        batch.drop_column("outcome_constraints")
