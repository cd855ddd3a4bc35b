"""claim vectors

Revision ID: 3f6c2b9e7a41
Revises: 91b83849575b
Create Date: 2026-11-28 04:10:00.000000

Vectors are not computed here: embedding every claim can take minutes, so `tracer reindex`
builds them (until then matching finds such claims by their words alone).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f6c2b9e7a41"
down_revision: str | None = "91b83849575b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_vectors",
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_vectors_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("claim_id", "language", name=op.f("pk_claim_vectors")),
    )
    with op.batch_alter_table("claim_vectors", schema=None) as batch_op:
        batch_op.create_index(
            "ix_claim_vectors_model_updated_at", ["model", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("claim_vectors", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_vectors_model_updated_at")
    op.drop_table("claim_vectors")
