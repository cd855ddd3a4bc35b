"""outlet flows: every claim's sightings and citations per outlet and UTC day, and their totals

Revision ID: 3b7f0d9e2a61
Revises: 7d2e9a4c6b15
Create Date: 2026-12-06 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b7f0d9e2a61"
down_revision: str | None = "c4a7e1f09b36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As they stood when this migration was written, whatever the enums say later.
STANCES = ("asserts", "reports", "questions", "debunks", "denies", "confirms", "retracts")


def _keys(table: str, *outlets: str) -> list[sa.ForeignKeyConstraint]:
    keys = [
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f(f"fk_{table}_claim_id_claims"), ondelete="CASCADE"
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


def upgrade() -> None:
    op.create_table(
        "outlet_days",
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "stance",
            sa.Enum(
                *STANCES,
                name="outlet_day_stance",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("after_denial", sa.Integer(), nullable=False),
        sa.Column("carried_first", sa.Integer(), nullable=False),
        *_keys("outlet_days", "outlet_id"),
        sa.PrimaryKeyConstraint(
            "claim_id", "outlet_id", "day", "stance", name=op.f("pk_outlet_days")
        ),
    )
    op.create_index("ix_outlet_days_outlet_id_day", "outlet_days", ["outlet_id", "day"])
    op.create_table(
        "outlet_flows",
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("source_outlet_id", sa.String(length=36), nullable=False),
        sa.Column("target_outlet_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("citations", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        *_keys("outlet_flows", "source_outlet_id", "target_outlet_id"),
        sa.PrimaryKeyConstraint(
            "claim_id",
            "source_outlet_id",
            "target_outlet_id",
            "day",
            name=op.f("pk_outlet_flows"),
        ),
    )
    op.create_index(
        "ix_outlet_flows_source_outlet_id_day", "outlet_flows", ["source_outlet_id", "day"]
    )
    op.create_index(
        "ix_outlet_flows_target_outlet_id_day", "outlet_flows", ["target_outlet_id", "day"]
    )
    op.create_table(
        "outlet_totals",
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("first_to_carry", sa.Integer(), nullable=False),
        sa.Column("after_denial", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outlet_id"],
            ["outlets.id"],
            name=op.f("fk_outlet_totals_outlet_id_outlets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("outlet_id", name=op.f("pk_outlet_totals")),
    )
    op.create_table(
        "outlet_links",
        sa.Column("source_outlet_id", sa.String(length=36), nullable=False),
        sa.Column("target_outlet_id", sa.String(length=36), nullable=False),
        sa.Column("citations", sa.Integer(), nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        *[
            sa.ForeignKeyConstraint(
                [column],
                ["outlets.id"],
                name=op.f(f"fk_outlet_links_{column}_outlets"),
                ondelete="RESTRICT",
            )
            for column in ("source_outlet_id", "target_outlet_id")
        ],
        sa.PrimaryKeyConstraint(
            "source_outlet_id", "target_outlet_id", name=op.f("pk_outlet_links")
        ),
    )
    _backfill()


def _backfill() -> None:
    """Every claim recorded so far, counted as app.network.flows counts a claim."""
    if op.get_bind().dialect.name == "postgresql":
        # A ledger of a million sightings takes minutes to count: longer than the service lets a
        # request's statement run, which is no limit for an upgrade that runs once.
        op.execute("SET LOCAL statement_timeout = 0")

        def day(column: str) -> str:
            return f"timezone('UTC', date_trunc('day', timezone('UTC', {column})))"

        sighting_id = 's.id COLLATE "C"'
    else:

        def day(column: str) -> str:
            return f"strftime('%Y-%m-%d 00:00:00.000000', {column})"

        sighting_id = "s.id"
    op.execute(
        "INSERT INTO outlet_days "
        "(claim_id, outlet_id, day, stance, sightings, after_denial, carried_first) "
        "SELECT r.claim_id, r.outlet_id, r.day, r.stance, count(*), "
        "sum(CASE WHEN r.stance IN ('asserts', 'reports') AND r.published_at > d.at "
        "THEN 1 ELSE 0 END), "
        "sum(CASE WHEN r.position = 1 THEN 1 ELSE 0 END) "
        f"FROM (SELECT s.claim_id, s.outlet_id, {day('s.published_at')} AS day, s.stance, "
        "s.published_at, row_number() OVER (PARTITION BY s.claim_id "
        f"ORDER BY s.published_at, s.recorded_at, {sighting_id}) AS position "
        "FROM sightings AS s) AS r "
        "LEFT OUTER JOIN (SELECT s.claim_id, min(s.published_at) AS at FROM sightings AS s "
        "JOIN outlets AS o ON o.id = s.outlet_id "
        "WHERE o.kind = 'official' AND s.stance = 'denies' GROUP BY s.claim_id) AS d "
        "ON d.claim_id = r.claim_id "
        "GROUP BY r.claim_id, r.outlet_id, r.day, r.stance"
    )
    op.execute(
        "INSERT INTO outlet_flows "
        "(claim_id, source_outlet_id, target_outlet_id, day, citations, first_at, last_at) "
        f"SELECT citing.claim_id, cited.outlet_id, citing.outlet_id, "
        f"{day('citing.published_at')}, count(*), min(citing.published_at), "
        "max(citing.published_at) "
        "FROM citations "
        "JOIN sightings AS citing ON citing.id = citations.citing_id "
        "JOIN sightings AS cited ON cited.id = citations.cited_id "
        "WHERE cited.claim_id = citing.claim_id AND cited.outlet_id <> citing.outlet_id "
        f"GROUP BY citing.claim_id, cited.outlet_id, citing.outlet_id, "
        f"{day('citing.published_at')}"
    )
    op.execute(
        "INSERT INTO outlet_totals (outlet_id, claims, sightings, first_to_carry, after_denial) "
        "SELECT outlet_id, count(DISTINCT claim_id), sum(sightings), sum(carried_first), "
        "sum(after_denial) FROM outlet_days GROUP BY outlet_id"
    )
    op.execute(
        "INSERT INTO outlet_links "
        "(source_outlet_id, target_outlet_id, citations, claims, first_at, last_at) "
        "SELECT source_outlet_id, target_outlet_id, sum(citations), count(DISTINCT claim_id), "
        "min(first_at), max(last_at) FROM outlet_flows "
        "GROUP BY source_outlet_id, target_outlet_id"
    )


def downgrade() -> None:
    op.drop_table("outlet_links")
    op.drop_table("outlet_totals")
    op.drop_table("outlet_flows")
    op.drop_table("outlet_days")
