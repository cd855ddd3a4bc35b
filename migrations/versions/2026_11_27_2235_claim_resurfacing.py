"""claim resurfacing

Revision ID: b3d2abaffeea
Revises: 47cef44db7c6
Create Date: 2026-11-27 22:35:40.383374
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3d2abaffeea"
down_revision: str | None = "47cef44db7c6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Claims that already spread after their first official denial start out as resurfaced, so
# the first refresh after this revision does not announce an old resurfacing as new.
BACKFILL = """
UPDATE claims SET sightings_after_denial = (
    SELECT count(*) FROM sightings AS spread
    WHERE spread.claim_id = claims.id
      AND spread.stance IN ('asserts', 'reports')
      AND spread.published_at > (
          SELECT min(denial.published_at)
          FROM sightings AS denial JOIN outlets ON outlets.id = denial.outlet_id
          WHERE denial.claim_id = claims.id
            AND outlets.kind = 'official'
            AND denial.stance = 'denies'
      )
)
"""


def upgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sightings_after_denial", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_column("sightings_after_denial")
