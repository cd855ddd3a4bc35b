from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.columns import enum_column
from app.db import Base, UTCDateTime, new_id, utcnow
from app.enums import OutletKind
from app.versioning import Revised, history_of


class Outlet(Revised, Base):
    __tablename__ = "outlets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[OutletKind] = mapped_column(enum_column(OutletKind, "outlet_kind"), index=True)
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    language: Mapped[str | None] = mapped_column(String(35))
    url: Mapped[str | None] = mapped_column(Text)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The addresses it publishes under, canonical (app.urls); `outlet_domains` indexes them.
    domains: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Case-folded slug, name and aliases: one portable column for `?q=` substring search.
    search_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_by_key_id: Mapped[str | None] = mapped_column(String(36))

    @property
    def recorded_at(self) -> datetime:
        return self.created_at


outlet_versions = history_of(Outlet, "outlet_versions", indexed=["slug"])


class OutletDomain(Base):
    """One address an outlet publishes under: the key that finds an outlet from a URL.

    The outlet's `domains` list is what it shows and versions; this table holds the same
    entries once each across all outlets, so that a taken entry is a conflict and a URL's
    candidate entries are found with one indexed lookup.
    """

    __tablename__ = "outlet_domains"

    entry: Mapped[str] = mapped_column(String(2048), primary_key=True)
    outlet_id: Mapped[str] = mapped_column(ForeignKey("outlets.id", ondelete="CASCADE"), index=True)
