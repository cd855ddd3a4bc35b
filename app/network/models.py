"""What every claim's chain adds up to per outlet, kept so that records and the network across
claims are read from a few index ranges instead of from every sighting.

Both tables are per claim and per UTC day of publication: a claim's rows are counted again from
its sightings whenever they change (app.network.flows), and a request sums the days and claims it
selects. The day is the finest step a time window takes: most dates in the ledger are known to
the day or less precisely, so a finer window would claim a precision the records do not have.

They name claims and outlets without foreign keys, as the claims' own counts do
(app.claims.models): every row is counted from sightings that hold those keys already.
"""

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.columns import enum_column
from app.db import Base, UTCDateTime
from app.enums import Stance


class OutletDay(Base):
    """One outlet's sightings of a claim with one stance, published on one UTC day."""

    __tablename__ = "outlet_days"
    __table_args__ = (Index("ix_outlet_days_outlet_id_day", "outlet_id", "day"),)

    claim_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    outlet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    stance: Mapped[Stance] = mapped_column(
        enum_column(Stance, "outlet_day_stance"), primary_key=True
    )
    sightings: Mapped[int] = mapped_column(Integer)
    # Asserting or reporting sightings published after the claim's first official denial.
    after_denial: Mapped[int] = mapped_column(Integer)
    # 1 when the claim's earliest sighting is among these: this outlet carried it first.
    carried_first: Mapped[int] = mapped_column(Integer)


class OutletFlow(Base):
    """Citations, within one claim, from sightings of `target_outlet_id` published on one UTC day
    to sightings of `source_outlet_id`: the claim went from the source to the target."""

    __tablename__ = "outlet_flows"
    __table_args__ = (
        Index("ix_outlet_flows_source_outlet_id_day", "source_outlet_id", "day"),
        Index("ix_outlet_flows_target_outlet_id_day", "target_outlet_id", "day"),
    )

    claim_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_outlet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    target_outlet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    citations: Mapped[int] = mapped_column(Integer)
    # When the first and the last citing sighting of the day were published.
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutletTotal(Base):
    """What `outlet_days` adds up to for one outlet over every claim and day: the network's
    nodes when nothing narrows it, read without summing a million rows."""

    __tablename__ = "outlet_totals"

    outlet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    claims: Mapped[int] = mapped_column(Integer)
    sightings: Mapped[int] = mapped_column(Integer)
    first_to_carry: Mapped[int] = mapped_column(Integer)
    after_denial: Mapped[int] = mapped_column(Integer)


class OutletLink(Base):
    """What `outlet_flows` adds up to for one pair of outlets over every claim and day: the
    network's edges when nothing narrows it.

    The pair's slugs are kept with it (an outlet's slug never changes) so that one index holds
    the whole network in the order it is sent, most citations first and then by slug: half a
    million edges are read in that order as they are, without joining or sorting them.
    """

    __tablename__ = "outlet_links"

    source_outlet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    target_outlet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_slug: Mapped[str] = mapped_column(String(63))
    target_slug: Mapped[str] = mapped_column(String(63))
    citations: Mapped[int] = mapped_column(Integer)
    claims: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


Index(
    "ix_outlet_links_citations_slugs",
    OutletLink.citations.desc(),
    OutletLink.source_slug,
    OutletLink.target_slug,
    postgresql_include=["claims", "first_at", "last_at"],
)
