"""document changes

Revision ID: 5e8a1c7f3d20
Revises: 5e1c8a7d4f20
Create Date: 2026-12-06 01:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e8a1c7f3d20"
down_revision: str | None = "5e1c8a7d4f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The outbox check counted every row of outlet_versions, which grows with each correction;
    # a correction now adds one to its row here, which the check reads by its key.
    op.create_table(
        "document_changes",
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_document_changes")),
    )


def downgrade() -> None:
    op.drop_table("document_changes")
