from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.columns import enum_column
from app.db import Base, UTCDateTime, new_id, utcnow
from app.enums import Scope


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[Scope] = mapped_column(enum_column(Scope, "api_key_scope"))
    # SHA-256 of the key: keys are long random strings, so a fast hash cannot be brute-forced.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
