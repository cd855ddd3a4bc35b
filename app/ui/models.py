from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.columns import enum_column
from app.db import Base, UTCDateTime, utcnow
from app.enums import Scope


class UiSession(Base):
    """A signed-in browser: the key it signed in with, and until when the session holds."""

    __tablename__ = "ui_sessions"

    # SHA-256 of the cookie's value: a leaked table does not let anyone sign in.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # None for the bootstrap admin key, which has no row of its own.
    key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    key_name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[Scope] = mapped_column(enum_column(Scope, "ui_session_scope"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
