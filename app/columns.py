"""Column types every domain's models share."""

from enum import StrEnum

from sqlalchemy import Enum


def enum_column(enum: type[StrEnum], name: str) -> Enum:
    """A portable enum: VARCHAR plus a CHECK constraint, identical on SQLite and PostgreSQL."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )
