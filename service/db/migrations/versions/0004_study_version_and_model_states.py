"""A version counter on every study, and the surrogates' fitted state in the database.

``studies.version`` is bumped by every change to a study's trials (suggest, observe, fail,
abandon, lease expiry). ``model_states`` keeps, per study and surrogate, the compact state a
fit warm-starts from (safetensors bytes) with the data version and fingerprint it was fitted
on, so every API process starts from the same state and a deleted study's state goes with it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "model_states",
        sa.Column("study_id", sa.String(length=32), nullable=False),
        sa.Column("surrogate", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=256), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("data_version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("study_id", "surrogate"),
    )


def downgrade() -> None:
    op.drop_table("model_states")
    with op.batch_alter_table("studies") as batch:
        batch.drop_column("version")
