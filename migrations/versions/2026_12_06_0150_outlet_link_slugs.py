"""outlet link slugs: the pair's slugs on each outlet link, and the network's order as an index

Revision ID: 5e1c8a7d4f20
Revises: 3b9f0c2d8e41
Create Date: 2026-12-06 01:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1c8a7d4f20"
down_revision: str | None = "3b9f0c2d8e41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Every link of a large ledger is rewritten: longer than a request's statement may run.
        op.execute("SET LOCAL statement_timeout = 0")
    op.add_column("outlet_links", sa.Column("source_slug", sa.String(length=63), nullable=True))
    op.add_column("outlet_links", sa.Column("target_slug", sa.String(length=63), nullable=True))
    op.execute(
        "UPDATE outlet_links SET "
        "source_slug = (SELECT slug FROM outlets AS o WHERE o.id = outlet_links.source_outlet_id), "
        "target_slug = (SELECT slug FROM outlets AS o WHERE o.id = outlet_links.target_outlet_id)"
    )
    with op.batch_alter_table("outlet_links") as batch:
        batch.alter_column("source_slug", existing_type=sa.String(length=63), nullable=False)
        batch.alter_column("target_slug", existing_type=sa.String(length=63), nullable=False)
    op.create_index(
        "ix_outlet_links_citations_slugs",
        "outlet_links",
        [sa.text("citations DESC"), "source_slug", "target_slug"],
        postgresql_include=["claims", "first_at", "last_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_outlet_links_citations_slugs", table_name="outlet_links")
    with op.batch_alter_table("outlet_links") as batch:
        batch.drop_column("target_slug")
        batch.drop_column("source_slug")
