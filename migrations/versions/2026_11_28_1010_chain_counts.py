"""chain counts: a claim's flows, outlets and hours, kept as they are written

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

# As they stood when this migration was written, whatever the enums say later.
OUTLET_KINDS = (
    "anonymous_channel",
    "social_account",
    "news_outlet",
    "broadcaster",
    "official",
    "fact_checker",
    "other",
)
STANCES = ("asserts", "reports", "questions", "debunks", "denies", "confirms", "retracts")


def _claim_and_outlet(table: str, *outlets: str) -> list[sa.ForeignKeyConstraint]:
    keys = [
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f(f"fk_{table}_claim_id_claims"),
            ondelete="CASCADE",
        )
    ]
    for column in outlets:
        keys.append(
            sa.ForeignKeyConstraint(
                [column],
                ["outlets.id"],
                name=op.f(f"fk_{table}_{column}_outlets"),
                ondelete="RESTRICT",
            )
        )
    return keys


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "claim_flows",
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("source_outlet_id", sa.String(length=36), nullable=False),
        sa.Column("target_outlet_id", sa.String(length=36), nullable=False),
        sa.Column("citations", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        *_claim_and_outlet("claim_flows", "source_outlet_id", "target_outlet_id"),
        sa.PrimaryKeyConstraint(
            "claim_id", "source_outlet_id", "target_outlet_id", name=op.f("pk_claim_flows")
        ),
    )
    op.create_table(
        "claim_outlets",
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        *_claim_and_outlet("claim_outlets", "outlet_id"),
        sa.PrimaryKeyConstraint(
            "claim_id", "outlet_id", "language", name=op.f("pk_claim_outlets")
        ),
    )
    op.create_table(
        "claim_hours",
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", _enum("claim_hour_kind", *OUTLET_KINDS), nullable=False),
        sa.Column("stance", _enum("claim_hour_stance", *STANCES), nullable=False),
        sa.Column("sightings", sa.Integer(), nullable=False),
        *_claim_and_outlet("claim_hours"),
        sa.PrimaryKeyConstraint("claim_id", "hour", "kind", "stance", name=op.f("pk_claim_hours")),
    )
    # Every claim recorded so far, counted as recording would have counted it.
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
    op.execute(
        "INSERT INTO claim_outlets "
        "(claim_id, outlet_id, language, sightings, first_at, last_at) "
        "SELECT claim_id, outlet_id, coalesce(language, ''), count(*), min(published_at), "
        "max(published_at) FROM sightings GROUP BY claim_id, outlet_id, coalesce(language, '')"
    )
    if op.get_bind().dialect.name == "postgresql":
        hour = "timezone('UTC', date_trunc('hour', timezone('UTC', s.published_at)))"
    else:
        hour = "strftime('%Y-%m-%d %H:00:00.000000', s.published_at)"
    op.execute(
        "INSERT INTO claim_hours (claim_id, hour, kind, stance, sightings) "
        f"SELECT s.claim_id, {hour}, o.kind, s.stance, count(*) "
        "FROM sightings AS s JOIN outlets AS o ON o.id = s.outlet_id "
        f"GROUP BY s.claim_id, {hour}, o.kind, s.stance"
    )


def downgrade() -> None:
    op.drop_table("claim_hours")
    op.drop_table("claim_outlets")
    op.drop_table("claim_flows")
