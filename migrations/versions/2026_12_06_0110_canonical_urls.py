"""canonical urls and outlet domains

Every sighting gets `canonical_url`, and the duplicate rule moves from `url` to it. Sightings
already stored may turn out to repeat each other under the new rule (the same article once with
`?utm_source=` and once without): they are reported, not merged, since only a person can say
which one to keep. Each such row but the earliest recorded gets `duplicate_of`, pointing at it,
and the rule's unique index leaves those rows out; a correction that gives one an address of its
own brings it back under the rule.

Revision ID: 3b6f1d9e2a48
Revises: 7d2e9a4c6b15
Create Date: 2026-12-06 01:10:00.000000
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.urls import UrlRefused, canonical_url

revision: str = "3b6f1d9e2a48"
down_revision: str | None = "7d2e9a4c6b15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("tracer.migrate")

_WHERE = sa.text("duplicate_of IS NULL")
_CHUNK = 1000


def upgrade() -> None:
    for table in ("outlets", "outlet_versions"):
        op.add_column(
            table, sa.Column("domains", sa.JSON(), server_default="[]", nullable=False)
        )
    op.create_table(
        "outlet_domains",
        sa.Column("entry", sa.String(length=2048), nullable=False),
        sa.Column("outlet_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["outlet_id"],
            ["outlets.id"],
            name=op.f("fk_outlet_domains_outlet_id_outlets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry", name=op.f("pk_outlet_domains")),
    )
    op.create_index(op.f("ix_outlet_domains_outlet_id"), "outlet_domains", ["outlet_id"])

    for table in ("sightings", "sighting_versions"):
        op.add_column(table, sa.Column("canonical_url", sa.Text(), nullable=True))
        op.add_column(table, sa.Column("duplicate_of", sa.String(length=36), nullable=True))
    _fill_canonical_urls()
    _mark_duplicates()
    for table in ("sightings", "sighting_versions"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column("canonical_url", existing_type=sa.Text(), nullable=False)
    with op.batch_alter_table("sightings") as batch:
        batch.drop_constraint("uq_sightings_claim_id_outlet_id_url", type_="unique")
    op.create_index(
        "uq_sightings_claim_id_outlet_id_canonical_url",
        "sightings",
        ["claim_id", "outlet_id", "canonical_url"],
        unique=True,
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )
    op.create_index(op.f("ix_sightings_canonical_url"), "sightings", ["canonical_url"])


def _canonical(url: str) -> str:
    try:
        return canonical_url(url)
    except UrlRefused:
        # Stored before URLs were checked as strictly: kept as written, still comparable.
        return url


def _fill_canonical_urls() -> None:
    """Each distinct URL canonicalised once, then written by one UPDATE per table."""
    bind = op.get_bind()
    mapping = sa.table(
        "canonical_url_map", sa.column("url", sa.Text()), sa.column("canonical", sa.Text())
    )
    op.create_table(
        "canonical_url_map",
        sa.Column("url", sa.Text(), primary_key=True),
        sa.Column("canonical", sa.Text(), nullable=False),
    )
    urls = bind.execute(
        sa.text("SELECT url FROM sightings UNION SELECT url FROM sighting_versions")
    ).scalars()
    rows = [{"url": url, "canonical": _canonical(url)} for url in urls]
    for start in range(0, len(rows), _CHUNK):
        bind.execute(sa.insert(mapping), rows[start : start + _CHUNK])
    for table in ("sightings", "sighting_versions"):
        op.execute(
            f"UPDATE {table} SET canonical_url = (SELECT m.canonical FROM canonical_url_map m "
            f"WHERE m.url = {table}.url)"
        )
    op.drop_table("canonical_url_map")


def _mark_duplicates() -> None:
    """Report each sighting the canonical rule finds repeating an earlier one, and mark it."""
    bind = op.get_bind()
    groups = bind.execute(
        sa.text(
            "SELECT claim_id, outlet_id, canonical_url FROM sightings "
            "GROUP BY claim_id, outlet_id, canonical_url HAVING count(*) > 1"
        )
    ).all()
    marked = 0
    for claim_id, outlet_id, canonical in groups:
        rows = bind.execute(
            sa.text(
                "SELECT id, url FROM sightings WHERE claim_id = :claim AND outlet_id = :outlet "
                "AND canonical_url = :canonical ORDER BY recorded_at, id"
            ),
            {"claim": claim_id, "outlet": outlet_id, "canonical": canonical},
        ).all()
        (kept_id, kept_url), *repeats = rows
        for repeat_id, repeat_url in repeats:
            log.warning(
                "sighting %s (%s) repeats sighting %s (%s): same claim %s, outlet %s and "
                "canonical URL %s; kept both, marked duplicate_of=%s",
                repeat_id,
                repeat_url,
                kept_id,
                kept_url,
                claim_id,
                outlet_id,
                canonical,
                kept_id,
            )
            bind.execute(
                sa.text("UPDATE sightings SET duplicate_of = :kept WHERE id = :repeat"),
                {"kept": kept_id, "repeat": repeat_id},
            )
            marked += 1
    if marked:
        log.warning(
            "%d sighting(s) repeat another under the canonical URL rule; review them with "
            "GET /v1/sightings?url= and withdraw the ones recorded in error",
            marked,
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_sightings_canonical_url"), table_name="sightings")
    op.drop_index("uq_sightings_claim_id_outlet_id_canonical_url", table_name="sightings")
    with op.batch_alter_table("sightings") as batch:
        batch.create_unique_constraint(
            "uq_sightings_claim_id_outlet_id_url", ["claim_id", "outlet_id", "url"]
        )
    for table in ("sightings", "sighting_versions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("duplicate_of")
            batch.drop_column("canonical_url")
    op.drop_index(op.f("ix_outlet_domains_outlet_id"), table_name="outlet_domains")
    op.drop_table("outlet_domains")
    for table in ("outlets", "outlet_versions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("domains")
