"""claim flows

Revision ID: 5e8a1c3f7b20
Revises: 9c4f2b8e1d37
Create Date: 2026-11-28 10:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e8a1c3f7b20"
down_revision: str | None = "9c4f2b8e1d37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_flows",
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("source_outlet_id", sa.String(length=36), nullable=False),
        sa.Column("target_outlet_id", sa.String(length=36), nullable=False),
        sa.Column("citations", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_flows_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_outlet_id"],
            ["outlets.id"],
            name=op.f("fk_claim_flows_source_outlet_id_outlets"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["target_outlet_id"],
            ["outlets.id"],
            name=op.f("fk_claim_flows_target_outlet_id_outlets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "claim_id", "source_outlet_id", "target_outlet_id", name=op.f("pk_claim_flows")
        ),
    )
    # The flows of every claim recorded so far, counted as recording would have counted them.
    op.execute(
        "INSERT INTO claim_flows "
        "(claim_id, source_outlet_id, target_outlet_id, citations, first_at) "
        "SELECT citing.claim_id, cited.outlet_id, citing.outlet_id, count(*), "
        "min(citing.published_at) "
        "FROM citations "
        "JOIN sightings AS citing ON citing.id = citations.citing_id "
        "JOIN sightings AS cited ON cited.id = citations.cited_id "
        "WHERE cited.claim_id = citing.claim_id "
        "GROUP BY citing.claim_id, cited.outlet_id, citing.outlet_id"
    )


def downgrade() -> None:
    op.drop_table("claim_flows")
