"""captures

Revision ID: c4a7e1f09b36
Revises: 7d2e9a4c6b15
Create Date: 2026-12-06 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "c4a7e1f09b36"
down_revision: str | None = "3b6f1d9e2a48"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_EVENT_TYPES = [
    "claim.created",
    "sighting.recorded",
    "denial.recorded",
    "claim.status_changed",
    "claim.resurfaced",
    "claim.corrected",
    "claim.merged",
    "sighting.corrected",
    "sighting.withdrawn",
]
_NEW_EVENT_TYPES = ["evidence.captured", "source.changed", "source.gone"]

_EventId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _allow_event_types(types: list[str]) -> None:
    allowed = ", ".join(f"'{t}'" for t in types)
    # SQLite cannot alter a CHECK constraint: the table is rebuilt, keeping its AUTOINCREMENT.
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "events",
        schema=None,
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch_op:
        batch_op.drop_constraint(op.f("ck_events_event_type"), type_="check")
        batch_op.create_check_constraint("event_type", sa.text(f"type IN ({allowed})"))


def upgrade() -> None:
    _allow_event_types(_OLD_EVENT_TYPES + _NEW_EVENT_TYPES)
    op.create_table(
        "captures",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sighting_id", sa.String(length=36), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "fetch",
                "upload",
                name="capture_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("requested_url", sa.Text(), nullable=True),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("captured_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("filename", sa.Text(), nullable=True),
        sa.Column("warc_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captures")),
    )
    op.create_index(
        "ix_captures_sighting_id_captured_at",
        "captures",
        ["sighting_id", "captured_at"],
        unique=False,
    )
    op.create_table(
        "sighting_evidence",
        sa.Column("sighting_id", sa.String(length=36), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "captured",
                "failed",
                "gone",
                name="evidence_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("checked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("captures", sa.Integer(), nullable=False),
        sa.Column("latest_capture_id", sa.String(length=36), nullable=True),
        sa.Column("first_captured_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rechecks", sa.Integer(), nullable=False),
        sa.Column("due_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("sighting_id", name=op.f("pk_sighting_evidence")),
    )
    op.create_index(
        op.f("ix_sighting_evidence_due_at"), "sighting_evidence", ["due_at"], unique=False
    )
    op.create_index(
        op.f("ix_sighting_evidence_checked_at"),
        "sighting_evidence",
        ["checked_at"],
        unique=False,
    )
    op.create_table(
        "evidence_cursors",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("event_id", _EventId, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_evidence_cursors")),
    )


def downgrade() -> None:
    op.drop_table("evidence_cursors")
    op.drop_index(op.f("ix_sighting_evidence_checked_at"), table_name="sighting_evidence")
    op.drop_index(op.f("ix_sighting_evidence_due_at"), table_name="sighting_evidence")
    op.drop_table("sighting_evidence")
    op.drop_index("ix_captures_sighting_id_captured_at", table_name="captures")
    op.drop_table("captures")
    op.execute(
        "DELETE FROM events WHERE type IN (" + ", ".join(f"'{t}'" for t in _NEW_EVENT_TYPES) + ")"
    )
    _allow_event_types(_OLD_EVENT_TYPES)
