"""claim index cursors

Revision ID: 3b9f0c2d8e41
Revises: 7d2e9a4c6b15
Create Date: 2026-12-06 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b9f0c2d8e41"
down_revision: str | None = "3b7f0d9e2a61"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No row means nothing read yet: the first indexer reads every event, and claims embedded
    # before keep their vectors, since an unchanged wording is not embedded again.
    op.create_table(
        "claim_index_cursors",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_claim_index_cursors")),
    )


def downgrade() -> None:
    op.drop_table("claim_index_cursors")
