"""core ledger

Revision ID: b25e36871a57
Revises:
Create Date: 2026-11-27 21:45:38.596637
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b25e36871a57"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "scope",
            sa.Enum(
                "read",
                "write",
                "admin",
                name="api_key_scope",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("normalized", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("variant_of", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "denial_status",
            sa.Enum(
                "none",
                "denied",
                "confirmed",
                "contested",
                name="denial_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("sightings_count", sa.Integer(), nullable=False),
        sa.Column("outlets_count", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["variant_of"],
            ["claims.id"],
            name=op.f("fk_claims_variant_of_claims"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_claims_fingerprint")),
    )
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claims_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_claims_denial_status"), ["denial_status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_claims_variant_of"), ["variant_of"], unique=False)

    op.create_table(
        "idempotency_records",
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("principal", "key", name=op.f("pk_idempotency_records")),
    )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_records_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "outlets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "anonymous_channel",
                "social_account",
                "news_outlet",
                "broadcaster",
                "official",
                "fact_checker",
                "other",
                name="outlet_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outlets")),
        sa.UniqueConstraint("slug", name=op.f("uq_outlets_slug")),
    )
    with op.batch_alter_table("outlets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outlets_country"), ["country"], unique=False)
        batch_op.create_index(batch_op.f("ix_outlets_kind"), ["kind"], unique=False)

    op.create_table(
        "claim_tags",
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_tags_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("claim_id", "tag", name=op.f("pk_claim_tags")),
    )
    with op.batch_alter_table("claim_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_tags_tag"), ["tag"], unique=False)

    op.create_table(
        "sightings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("claim_id", sa.String(length=36), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "published_at_precision",
            sa.Enum(
                "exact",
                "day",
                "month",
                "approximate",
                name="published_at_precision",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "stance",
            sa.Enum(
                "asserts",
                "reports",
                "questions",
                "debunks",
                "denies",
                "confirms",
                "retracts",
                name="stance",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attribution", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("excerpt", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("archive_url", sa.Text(), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by_key_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_sightings_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outlet_id"],
            ["outlets.id"],
            name=op.f("fk_sightings_outlet_id_outlets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
        sa.UniqueConstraint(
            "claim_id", "outlet_id", "url", name=op.f("uq_sightings_claim_id_outlet_id_url")
        ),
    )
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sightings_claim_id_published_at", ["claim_id", "published_at"], unique=False
        )
        batch_op.create_index(
            "ix_sightings_outlet_id_claim_id_published_at",
            ["outlet_id", "claim_id", "published_at"],
            unique=False,
        )
        batch_op.create_index("ix_sightings_published_at_id", ["published_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sightings_stance"), ["stance"], unique=False)

    op.create_table(
        "citations",
        sa.Column("citing_id", sa.String(length=36), nullable=False),
        sa.Column("cited_id", sa.String(length=36), nullable=False),
        sa.Column(
            "basis",
            sa.Enum(
                "cites",
                "cites_outlet",
                name="citation_basis",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["cited_id"],
            ["sightings.id"],
            name=op.f("fk_citations_cited_id_sightings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["citing_id"],
            ["sightings.id"],
            name=op.f("fk_citations_citing_id_sightings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("citing_id", "cited_id", name=op.f("pk_citations")),
    )
    with op.batch_alter_table("citations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_citations_cited_id"), ["cited_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("citations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_citations_cited_id"))

    op.drop_table("citations")
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sightings_stance"))
        batch_op.drop_index("ix_sightings_published_at_id")
        batch_op.drop_index("ix_sightings_outlet_id_claim_id_published_at")
        batch_op.drop_index("ix_sightings_claim_id_published_at")

    op.drop_table("sightings")
    with op.batch_alter_table("claim_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_tags_tag"))

    op.drop_table("claim_tags")
    with op.batch_alter_table("outlets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outlets_kind"))
        batch_op.drop_index(batch_op.f("ix_outlets_country"))

    op.drop_table("outlets")
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_records_created_at"))

    op.drop_table("idempotency_records")
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claims_variant_of"))
        batch_op.drop_index(batch_op.f("ix_claims_denial_status"))
        batch_op.drop_index(batch_op.f("ix_claims_created_at"))

    op.drop_table("claims")
    op.drop_table("api_keys")
