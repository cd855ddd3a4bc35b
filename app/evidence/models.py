"""Captures of a sighting's source, and where each sighting stands in being captured."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.columns import enum_column
from app.db import Base, UTCDateTime, new_id, utcnow
from app.derived.freshness import moves_every_document
from app.enums import CaptureSource, EvidenceStatus
from app.outbox.models import EventId


class Capture(Base):
    """What a source answered once (or what a person uploaded): bytes kept in the store."""

    __tablename__ = "captures"
    __table_args__ = (Index("ix_captures_sighting_id_captured_at", "sighting_id", "captured_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # No foreign key: a withdrawn sighting leaves the current table, and keeps its captures.
    sighting_id: Mapped[str] = mapped_column(String(36))
    source: Mapped[CaptureSource] = mapped_column(enum_column(CaptureSource, "capture_source"))
    requested_url: Mapped[str | None] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filename: Mapped[str | None] = mapped_column(Text)
    # The WARC file of a fetch, by its own digest; uploads have none.
    warc_sha256: Mapped[str | None] = mapped_column(String(64))


class SightingEvidence(Base):
    """One row per sighting whose source is to be captured: its `evidence` status and its
    place in the capture queue. A row is due when `due_at` has come; a worker leases it by
    moving `due_at` a lease period ahead under its own name."""

    __tablename__ = "sighting_evidence"

    sighting_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[EvidenceStatus] = mapped_column(
        enum_column(EvidenceStatus, "evidence_status"), default=EvidenceStatus.pending
    )
    # Set by every check, which may change what a sighting shows without writing an event.
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    problem: Mapped[str | None] = mapped_column(Text)
    captures: Mapped[int] = mapped_column(Integer, default=0)
    latest_capture_id: Mapped[str | None] = mapped_column(String(36))
    # The first capture of the sighting's current URL; re-checks count from it. None until
    # then, and again after the URL is corrected.
    first_captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rechecks: Mapped[int] = mapped_column(Integer, default=0)
    # When the source is next fetched; None when nothing is scheduled.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Failed tries of the fetch in progress, for its back-off.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))


# A check that changes only the status or its problem (a failed fetch) writes no event, yet
# every chain showing the sighting shows its evidence.
moves_every_document(SightingEvidence.__tablename__, "checked_at")


class EvidenceCursor(Base):
    """How far the events announcing new and re-addressed sightings have been queued."""

    __tablename__ = "evidence_cursors"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    event_id: Mapped[int] = mapped_column(EventId, default=0)
