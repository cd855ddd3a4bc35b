from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.columns import enum_column
from app.db import Base, UTCDateTime, new_id, utcnow
from app.enums import DenialStatus, OutletKind, Stance
from app.outbox.models import EventId
from app.versioning import Revised, history_of


class Claim(Revised, Base):
    __tablename__ = "claims"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    statement: Mapped[str] = mapped_column(Text)
    # The normalised statement, searched by `?q=`; its SHA-256 is the unique key, since a
    # long text cannot sit in a PostgreSQL b-tree index.
    normalized: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    summary: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    variant_of: Mapped[str | None] = mapped_column(
        ForeignKey("claims.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Kept current by the sightings service under a lock on this row, so lists can filter and
    # sort on them without aggregating every sighting.
    denial_status: Mapped[DenialStatus] = mapped_column(
        enum_column(DenialStatus, "denial_status"), default=DenialStatus.none, index=True
    )
    sightings_count: Mapped[int] = mapped_column(Integer, default=0)
    outlets_count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Spreading sightings after the first official denial: when it leaves 0, the claim resurfaced.
    sightings_after_denial: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_by_key_id: Mapped[str | None] = mapped_column(String(36))

    @property
    def recorded_at(self) -> datetime:
        return self.created_at


claim_versions = history_of(Claim, "claim_versions")


class ClaimMerge(Base):
    """A claim merged into another: its id answers with a redirect to the survivor."""

    __tablename__ = "claim_merges"

    merged_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    into_id: Mapped[str] = mapped_column(String(36), index=True)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    merged_by: Mapped[str] = mapped_column(String(200))
    merged_by_key_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(Text)


class ClaimTerm(Base):
    """The words of every wording of a claim, as matching compares them.

    `POST /v1/claims/match` takes the claims sharing most of the query's rarer trigrams from
    this index (with those nearest by vector), then scores only those, so its cost follows the
    words asked about, not the ledger.

    Like the counts below, it names its claim without a foreign key: a batch of 1,000 sightings
    writes hundreds of such rows, all from ids it has just read, and checking each one against
    the claims cost PostgreSQL about a sixth of its time in a load. A merge, the only way a
    claim leaves the ledger, counts its rows away and drops its words itself.
    """

    __tablename__ = "claim_terms"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)


class ClaimVector(Base):
    """A claim's wordings in one language, as one sentence vector (float32 bytes, unit length).

    One vector per language rather than per wording: a batch of a thousand sightings of one
    claim embeds once per language, and each vector is centred on its own language's mean.
    `updated_at` lets every process see, with one cheap query, whether its copy is current.
    """

    __tablename__ = "claim_vectors"
    # Answers "how many, and the newest" from the index alone, without reading the vectors.
    __table_args__ = (Index("ix_claim_vectors_model_updated_at", "model", "updated_at"),)

    claim_id: Mapped[str] = mapped_column(
        ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the text embedded; none for vectors stored before it was kept.
    digest: Mapped[str | None] = mapped_column(String(64))
    # How long that text was: the background keeps a vector while the claim's text only grew
    # past it, and by less than half (`vectors.GROWTH`); none for vectors stored before.
    chars: Mapped[int | None] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ClaimTag(Base):
    """One row per tag, so `?tag=` is an index lookup on both engines."""

    __tablename__ = "claim_tags"

    claim_id: Mapped[str] = mapped_column(
        ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class ClaimFlow(Base):
    """Citations from one outlet's sightings of a claim to another's sightings of it: a
    projection of the claim's citations, kept current as they are written
    (app.claims.chain_counts)."""

    __tablename__ = "claim_flows"

    claim_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The outlet of the cited sighting, where the claim came from, and of the citing one.
    source_outlet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    target_outlet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    citations: Mapped[int] = mapped_column(Integer)
    # When the first citing sighting was published.
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClaimOutlet(Base):
    """One outlet's sightings of a claim in one language (its own, or none): how many, and
    when the first and the last were published. Kept current by app.claims.chain_counts."""

    __tablename__ = "claim_outlets"

    claim_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    outlet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The sightings' own language; "" for those without one, which take their outlet's.
    language: Mapped[str] = mapped_column(String(35), primary_key=True)
    sightings: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClaimHour(Base):
    """A claim's sightings published in one UTC hour, by the kind of their outlet and their
    stance. Kept current by app.claims.chain_counts."""

    __tablename__ = "claim_hours"

    claim_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    kind: Mapped[OutletKind] = mapped_column(
        enum_column(OutletKind, "claim_hour_kind"), primary_key=True
    )
    stance: Mapped[Stance] = mapped_column(
        enum_column(Stance, "claim_hour_stance"), primary_key=True
    )
    sightings: Mapped[int] = mapped_column(Integer)


class IndexCursor(Base):
    """How far the events have been read for claims whose vectors may need embedding again.

    Recording never waits for a model: it writes its events, and the indexer in the background
    reads them after this cursor, embeds what changed and moves the cursor in the transaction
    that stores the vectors, so work cut short by a dying process is simply done again.
    """

    __tablename__ = "claim_index_cursors"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    event_id: Mapped[int] = mapped_column(EventId, default=0)
