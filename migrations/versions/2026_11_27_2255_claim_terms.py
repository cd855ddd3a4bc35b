"""claim terms

Revision ID: 608233ca8528
Revises: b3d2abaffeea
Create Date: 2026-11-27 22:55:00.298245
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The index must hold exactly the keys the application computes, so the backfill uses its code.
from app.claims.lexical import terms_of

revision: str = "608233ca8528"
down_revision: str | None = "b3d2abaffeea"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _backfill() -> None:
    bind = op.get_bind()
    terms: dict[str, set[str]] = {}
    for claim_id, statement, summary in bind.execute(
        sa.text("SELECT id, statement, summary FROM claims")
    ):
        terms.setdefault(claim_id, set()).update(terms_of(statement, summary))
    for claim_id, title, excerpt in bind.execute(
        sa.text(
            "SELECT claim_id, title, excerpt FROM sightings "
            "WHERE title IS NOT NULL OR excerpt IS NOT NULL"
        )
    ):
        terms.setdefault(claim_id, set()).update(terms_of(title, excerpt))
    rows = [{"term": t, "claim_id": c} for c, found in terms.items() for t in sorted(found)]
    if rows:
        table = sa.table("claim_terms", sa.column("term"), sa.column("claim_id"))
        op.bulk_insert(table, rows)


def upgrade() -> None:
    op.create_table(
        "claim_terms",
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_terms_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("term", "claim_id", name=op.f("pk_claim_terms")),
    )
    with op.batch_alter_table("claim_terms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_terms_claim_id"), ["claim_id"], unique=False)
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("claim_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_terms_claim_id"))
    op.drop_table("claim_terms")
