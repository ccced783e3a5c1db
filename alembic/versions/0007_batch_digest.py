"""ingest_batches.digest: what a claimed batch held, so the same batch_id over other points is refused

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_batches") as batch_op:
        batch_op.add_column(sa.Column("digest", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_batches") as batch_op:
        batch_op.drop_column("digest")
