from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime

# SQLite only gives a column the rowid's auto-numbering when it is declared plain INTEGER.
EntryId = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(Base):
    """One change to the ledger or its access, in the order it was made. Rows are only added.

    A record's history is its entries that carry a revision: what changed, who changed it and
    why, newest first.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_target_type_target_id_id", "target_type", "target_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(EntryId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    key_id: Mapped[str | None] = mapped_column(String(36), index=True)
    key_name: Mapped[str] = mapped_column(String(200))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(200))
