"""counts without foreign keys: the tables counted from the ledger check no keys per row

Revision ID: 8c3f5a1e9d47
Revises: 5e8a1c7f3d20
Create Date: 2026-12-07 01:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8c3f5a1e9d47"
down_revision: str | None = "5e8a1c7f3d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each table's keys to claims (deleted with the claim) and to outlets (which are never deleted).
KEYS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "claim_terms": (("claim_id", "claims", "CASCADE"),),
    "claim_flows": (
        ("claim_id", "claims", "CASCADE"),
        ("source_outlet_id", "outlets", "RESTRICT"),
        ("target_outlet_id", "outlets", "RESTRICT"),
    ),
    "claim_outlets": (
        ("claim_id", "claims", "CASCADE"),
        ("outlet_id", "outlets", "RESTRICT"),
    ),
    "claim_hours": (("claim_id", "claims", "CASCADE"),),
    "outlet_days": (
        ("claim_id", "claims", "CASCADE"),
        ("outlet_id", "outlets", "RESTRICT"),
    ),
    "outlet_flows": (
        ("claim_id", "claims", "CASCADE"),
        ("source_outlet_id", "outlets", "RESTRICT"),
        ("target_outlet_id", "outlets", "RESTRICT"),
    ),
    "outlet_totals": (("outlet_id", "outlets", "RESTRICT"),),
    "outlet_links": (
        ("source_outlet_id", "outlets", "RESTRICT"),
        ("target_outlet_id", "outlets", "RESTRICT"),
    ),
}


def upgrade() -> None:
    for table, keys in KEYS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, referred, _ in keys:
                batch_op.drop_constraint(
                    op.f(f"fk_{table}_{column}_{referred}"), type_="foreignkey"
                )


def downgrade() -> None:
    for table, keys in KEYS.items():
        for column, referred, _ in keys:
            # Rows naming a claim that is gone (words written as it was merged) would refuse
            # the key; they count nothing.
            op.execute(f"DELETE FROM {table} WHERE {column} NOT IN (SELECT id FROM {referred})")
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, referred, on_delete in keys:
                batch_op.create_foreign_key(
                    op.f(f"fk_{table}_{column}_{referred}"),
                    referred,
                    [column],
                    ["id"],
                    ondelete=on_delete,
                )
