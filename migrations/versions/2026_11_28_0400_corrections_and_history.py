"""corrections and history

Revision ID: 91b83849575b
Revises: 608233ca8528
Create Date: 2026-11-28 03:56:27.825776
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '91b83849575b'
down_revision: str | None = '608233ca8528'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RECORDER = ["recorded_by", "recorded_by_key_id"]
_REVISED = ["revision", "revised_at", "revised_by", "revised_by_key_id", "valid_from"]
_REQUIRED = {"recorded_by", "revision", "revised_at", "revised_by", "valid_from"}


def _column(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    if name == "revision":
        return sa.Column(name, sa.Integer(), server_default="1", nullable=nullable)
    if name in ("revised_at", "valid_from"):
        return sa.Column(name, app.db.UTCDateTime(timezone=True), nullable=nullable)
    if name.endswith("_key_id"):
        return sa.Column(name, sa.String(length=36), nullable=True)
    return sa.Column(name, sa.String(length=200), nullable=nullable)


# Claims and outlets did not say who recorded them: the first sighting that used them did.
_FIRST_RECORDER = """
    COALESCE((SELECT s.recorded_by FROM sightings s WHERE s.{column} = {table}.id
              ORDER BY s.recorded_at, s.id LIMIT 1), 'unknown')
"""


def _backfill() -> None:
    for table, column in (("claims", "claim_id"), ("outlets", "outlet_id")):
        op.execute(
            f"UPDATE {table} SET recorded_by = "
            + _FIRST_RECORDER.format(column=column, table=table)
        )
        op.execute(
            f"UPDATE {table} SET revised_at = created_at, revised_by = recorded_by, "
            "valid_from = created_at, revision = 1"
        )
    op.execute(
        "UPDATE sightings SET revised_at = recorded_at, revised_by = recorded_by, "
        "revised_by_key_id = recorded_by_key_id, valid_from = recorded_at, revision = 1"
    )
    op.execute(
        "UPDATE citations SET valid_from = "
        "(SELECT s.recorded_at FROM sightings s WHERE s.id = citations.citing_id)"
    )


def _log_existing_records() -> None:
    """Each existing record's history starts with its creation, as a new one's does."""
    for table, target, at in (
        ("outlets", "outlet", "created_at"),
        ("claims", "claim", "created_at"),
        ("sightings", "sighting", "recorded_at"),
    ):
        key_id = "recorded_by_key_id"
        op.execute(
            "INSERT INTO audit_log (at, action, key_id, key_name, target_type, target_id, "
            "revision, changes) "
            f"SELECT {at}, 'created', {key_id}, recorded_by, '{target}', id, 1, '{{}}' "
            f"FROM {table} ORDER BY {at}, id"
        )


_OLD_EVENT_TYPES = [
    "claim.created",
    "sighting.recorded",
    "denial.recorded",
    "claim.status_changed",
    "claim.resurfaced",
]
_NEW_EVENT_TYPES = [
    "claim.corrected",
    "claim.merged",
    "sighting.corrected",
    "sighting.withdrawn",
]


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
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('key_id', sa.String(length=36), nullable=True),
    sa.Column('key_name', sa.String(length=200), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('request_id', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_key_id'), ['key_id'], unique=False)
        batch_op.create_index('ix_audit_log_target_type_target_id_id', ['target_type', 'target_id', 'id'], unique=False)

    op.create_table('citation_versions',
    sa.Column('citing_id', sa.String(length=36), nullable=False),
    sa.Column('cited_id', sa.String(length=36), nullable=False),
    sa.Column('basis', sa.String(length=32), nullable=False),
    sa.Column('valid_from', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_to', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('citing_id', 'cited_id', 'valid_from', name=op.f('pk_citation_versions'))
    )
    with op.batch_alter_table('citation_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citation_versions_cited_id'), ['cited_id'], unique=False)

    op.create_table('claim_merges',
    sa.Column('merged_id', sa.String(length=36), nullable=False),
    sa.Column('into_id', sa.String(length=36), nullable=False),
    sa.Column('merged_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('merged_by', sa.String(length=200), nullable=False),
    sa.Column('merged_by_key_id', sa.String(length=36), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('merged_id', name=op.f('pk_claim_merges'))
    )
    with op.batch_alter_table('claim_merges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_merges_into_id'), ['into_id'], unique=False)

    op.create_table('claim_versions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('normalized', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=35), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('variant_of', sa.String(length=36), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('denial_status', sa.String(length=32), nullable=False),
    sa.Column('sightings_count', sa.Integer(), nullable=False),
    sa.Column('outlets_count', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sightings_after_denial', sa.Integer(), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_by_key_id', sa.String(length=36), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('revised_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revised_by', sa.String(length=200), nullable=False),
    sa.Column('revised_by_key_id', sa.String(length=36), nullable=True),
    sa.Column('valid_from', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_to', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', 'valid_from', name=op.f('pk_claim_versions'))
    )
    op.create_table('outlet_versions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('language', sa.String(length=35), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_by_key_id', sa.String(length=36), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('revised_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revised_by', sa.String(length=200), nullable=False),
    sa.Column('revised_by_key_id', sa.String(length=36), nullable=True),
    sa.Column('valid_from', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_to', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', 'valid_from', name=op.f('pk_outlet_versions'))
    )
    with op.batch_alter_table('outlet_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outlet_versions_slug'), ['slug'], unique=False)

    op.create_table('sighting_versions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('claim_id', sa.String(length=36), nullable=False),
    sa.Column('outlet_id', sa.String(length=36), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('published_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at_precision', sa.String(length=32), nullable=False),
    sa.Column('stance', sa.String(length=32), nullable=False),
    sa.Column('attribution', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('excerpt', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=35), nullable=True),
    sa.Column('archive_url', sa.Text(), nullable=True),
    sa.Column('content_sha256', sa.String(length=64), nullable=True),
    sa.Column('recorded_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_by_key_id', sa.String(length=36), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('revised_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revised_by', sa.String(length=200), nullable=False),
    sa.Column('revised_by_key_id', sa.String(length=36), nullable=True),
    sa.Column('valid_from', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_to', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', 'valid_from', name=op.f('pk_sighting_versions'))
    )
    with op.batch_alter_table('sighting_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sighting_versions_claim_id'), ['claim_id'], unique=False)

    op.create_table('withdrawals',
    sa.Column('sighting_id', sa.String(length=36), nullable=False),
    sa.Column('claim_id', sa.String(length=36), nullable=False),
    sa.Column('withdrawn_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_by', sa.String(length=200), nullable=False),
    sa.Column('withdrawn_by_key_id', sa.String(length=36), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('sighting_id', name=op.f('pk_withdrawals'))
    )
    with op.batch_alter_table('withdrawals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_withdrawals_claim_id'), ['claim_id'], unique=False)

    # Every record already in the ledger becomes revision 1 of itself, current since it was
    # first recorded; its first recording is also its latest revision.
    new_columns = {
        "citations": ["valid_from"],
        "claims": [*_RECORDER, *_REVISED],
        "outlets": [*_RECORDER, *_REVISED],
        "sightings": _REVISED,
    }
    for table, names in new_columns.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in names:
                batch_op.add_column(_column(name, nullable=True))
    _backfill()
    for table, names in new_columns.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in names:
                if name in _REQUIRED:
                    batch_op.alter_column(name, existing_type=_column(name).type, nullable=False)
    _log_existing_records()


def downgrade() -> None:
    op.execute(
        "DELETE FROM events WHERE type IN (" + ", ".join(f"'{t}'" for t in _NEW_EVENT_TYPES) + ")"
    )
    _allow_event_types(_OLD_EVENT_TYPES)
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.drop_column('valid_from')
        batch_op.drop_column('revised_by_key_id')
        batch_op.drop_column('revised_by')
        batch_op.drop_column('revised_at')
        batch_op.drop_column('revision')

    with op.batch_alter_table('outlets', schema=None) as batch_op:
        batch_op.drop_column('valid_from')
        batch_op.drop_column('revised_by_key_id')
        batch_op.drop_column('revised_by')
        batch_op.drop_column('revised_at')
        batch_op.drop_column('revision')
        batch_op.drop_column('recorded_by_key_id')
        batch_op.drop_column('recorded_by')

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('valid_from')
        batch_op.drop_column('revised_by_key_id')
        batch_op.drop_column('revised_by')
        batch_op.drop_column('revised_at')
        batch_op.drop_column('revision')
        batch_op.drop_column('recorded_by_key_id')
        batch_op.drop_column('recorded_by')

    with op.batch_alter_table('citations', schema=None) as batch_op:
        batch_op.drop_column('valid_from')

    with op.batch_alter_table('withdrawals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_withdrawals_claim_id'))

    op.drop_table('withdrawals')
    with op.batch_alter_table('sighting_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sighting_versions_claim_id'))

    op.drop_table('sighting_versions')
    with op.batch_alter_table('outlet_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outlet_versions_slug'))

    op.drop_table('outlet_versions')
    op.drop_table('claim_versions')
    with op.batch_alter_table('claim_merges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_merges_into_id'))

    op.drop_table('claim_merges')
    with op.batch_alter_table('citation_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citation_versions_cited_id'))

    op.drop_table('citation_versions')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_target_type_target_id_id')
        batch_op.drop_index(batch_op.f('ix_audit_log_key_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
