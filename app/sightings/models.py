from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.columns import enum_column
from app.db import Base, UTCDateTime, new_id, utcnow
from app.enums import CitationBasis, Precision, Stance
from app.outlets.models import Outlet
from app.urls import canonical_url
from app.versioning import Revised, history_of


def _canonical_of_row(context: DefaultExecutionContext) -> str:
    row: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return canonical_url(row["url"])


class Sighting(Revised, Base):
    __tablename__ = "sightings"
    __table_args__ = (
        # The duplicate rule compares canonical URLs. Rows the rule found already duplicated
        # when it arrived (see the canonical_urls migration) point at the row they repeat and
        # stand outside it.
        Index(
            "uq_sightings_claim_id_outlet_id_canonical_url",
            "claim_id",
            "outlet_id",
            "canonical_url",
            unique=True,
            sqlite_where=text("duplicate_of IS NULL"),
            postgresql_where=text("duplicate_of IS NULL"),
        ),
        Index("ix_sightings_claim_id_published_at", "claim_id", "published_at"),
        Index(
            "ix_sightings_outlet_id_claim_id_published_at", "outlet_id", "claim_id", "published_at"
        ),
        Index("ix_sightings_published_at_id", "published_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    outlet_id: Mapped[str] = mapped_column(ForeignKey("outlets.id", ondelete="RESTRICT"))
    url: Mapped[str] = mapped_column(Text)
    # `url` in the one form every equivalent form shares; computed on insert when not given,
    # so that no way of writing rows can leave it out.
    canonical_url: Mapped[str] = mapped_column(Text, index=True, default=_canonical_of_row)
    duplicate_of: Mapped[str | None] = mapped_column(String(36))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at_precision: Mapped[Precision] = mapped_column(
        enum_column(Precision, "published_at_precision"), default=Precision.exact
    )
    stance: Mapped[Stance] = mapped_column(enum_column(Stance, "stance"), index=True)
    attribution: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    excerpt: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    archive_url: Mapped[str | None] = mapped_column(Text)
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_by_key_id: Mapped[str | None] = mapped_column(String(36))

    outlet: Mapped[Outlet] = relationship(lazy="raise")


class Citation(Base):
    """An edge of a propagation chain: `citing` took the claim from `cited`."""

    __tablename__ = "citations"

    citing_id: Mapped[str] = mapped_column(
        ForeignKey("sightings.id", ondelete="CASCADE"), primary_key=True
    )
    cited_id: Mapped[str] = mapped_column(
        ForeignKey("sightings.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    basis: Mapped[CitationBasis] = mapped_column(enum_column(CitationBasis, "citation_basis"))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The columns of the duplicate rule, and the condition of its partial unique index.
DUPLICATE_KEY = ["claim_id", "outlet_id", "canonical_url"]
DUPLICATE_KEY_WHERE = text("duplicate_of IS NULL")

sighting_versions = history_of(Sighting, "sighting_versions", indexed=["claim_id"])
citation_versions = history_of(Citation, "citation_versions", indexed=["cited_id"])


class Withdrawal(Base):
    """A sighting recorded in error and withdrawn: its id answers 410 with who, when and why."""

    __tablename__ = "withdrawals"

    sighting_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(36), index=True)
    withdrawn_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str] = mapped_column(String(200))
    withdrawn_by_key_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(Text)
