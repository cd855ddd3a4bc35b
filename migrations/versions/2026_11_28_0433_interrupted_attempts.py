"""interrupted delivery attempts

Revision ID: 9c4f2b8e1d37
Revises: ddd924872a99
Create Date: 2026-11-28 04:33:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9c4f2b8e1d37"
down_revision: str | None = "ddd924872a99"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "'succeeded', 'retrying', 'failed', 'gone'"
AFTER = BEFORE + ", 'interrupted'"


def _outcomes(allowed: str) -> None:
    # SQLite cannot alter a constraint in place; the batch copies the table.
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_constraint(op.f("ck_delivery_attempts_attempt_outcome"), type_="check")
        batch.create_check_constraint("attempt_outcome", f"outcome IN ({allowed})")


def upgrade() -> None:
    _outcomes(AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM delivery_attempts WHERE outcome = 'interrupted'")
    _outcomes(BEFORE)
