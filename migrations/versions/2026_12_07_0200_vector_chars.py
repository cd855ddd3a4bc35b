"""vector chars: how long the text a claim's vector was embedded from

Revision ID: 3b9e6d2a7c41
Revises: 8c3f5a1e9d47
Create Date: 2026-12-07 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b9e6d2a7c41"
down_revision: str | None = "8c3f5a1e9d47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Vectors stored before have none, and are embedded again at their claim's next change.
    with op.batch_alter_table("claim_vectors") as table:
        table.add_column(sa.Column("chars", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claim_vectors") as table:
        table.drop_column("chars")
