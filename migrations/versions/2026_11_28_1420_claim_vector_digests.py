"""claim vector digests

Revision ID: 7d2e9a4c6b15
Revises: 5e8a1c3f7b20
Create Date: 2026-11-28 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d2e9a4c6b15"
down_revision: str | None = "5e8a1c3f7b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Vectors stored before have none: each is embedded again at its claim's next change.
    op.add_column("claim_vectors", sa.Column("digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claim_vectors") as batch:
        batch.drop_column("digest")
