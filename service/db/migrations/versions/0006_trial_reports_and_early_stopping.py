"""Intermediate values of trials (``trial_reports``) and a study's early-stopping settings.

``trial_reports`` keeps one row per trial and step (strictly increasing steps per trial) with
the objective values measured there; ``studies.early_stopping`` holds the study's stopping
policy and its settings (NULL: no early stopping). A trial stopped by the policy has the new
state ``early_stopped`` (the ``state`` column is a plain string: no schema change).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.add_column(sa.Column("early_stopping", sa.JSON(), nullable=True))
    op.create_table(
        "trial_reports",
        sa.Column("trial_id", sa.String(length=32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.String(length=32), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["trial_id"], ["trials.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("trial_id", "step"),
    )
    op.create_index("ix_trial_reports_study", "trial_reports", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_trial_reports_study", table_name="trial_reports")
    op.drop_table("trial_reports")
    with op.batch_alter_table("studies") as batch:
        batch.drop_column("early_stopping")
