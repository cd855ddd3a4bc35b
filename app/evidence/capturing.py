"""Capturing a sighting's source: one fetch, what it means for the evidence, and its events.

The fetch happens outside any transaction; what it found is written in one short transaction,
and only while the worker still holds the sighting's lease, so a capture is kept once however
many workers share the queue. Bodies, WARC files and texts go to the store before that
transaction: the store is content-addressed, so a write whose record is never made costs
space, never correctness.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import outbox
from app.claims.models import Claim
from app.config import Settings
from app.db import new_id, utcnow
from app.enums import CaptureSource, EvidenceStatus
from app.evidence.events import EvidenceCaptured, SourceChanged, SourceGone
from app.evidence.fetching import Fetcher, FetchResult
from app.evidence.models import Capture, SightingEvidence
from app.evidence.queue import next_check
from app.evidence.readers import read_body, warc_file
from app.evidence.reading import text_sha256
from app.evidence.store import BodyFile, EvidenceStore
from app.outlets.models import Outlet
from app.sightings.models import Sighting

log = logging.getLogger(__name__)

GONE_STATUSES = frozenset({404, 410})


@dataclass
class Source:
    """The sighting whose source is fetched, and what is known of its evidence so far."""

    sighting_id: str
    claim_id: str
    outlet: str
    url: str
    tags: list[str]
    status: EvidenceStatus
    first_captured_at: datetime | None
    latest_capture_id: str | None
    latest_sha256: str | None
    latest_text_sha256: str | None


@dataclass
class Kept:
    """A body read and, when it is to be kept, stored."""

    sha256: str
    text_sha256: str | None
    title: str | None
    warc_sha256: str | None = None


async def source_of(session: AsyncSession, sighting_id: str) -> Source | None:
    """The current sighting with its evidence; None once withdrawn."""
    latest_row = (
        select(Sighting.url, Sighting.claim_id, Outlet.slug, Claim.tags, SightingEvidence)
        .join(Outlet, Outlet.id == Sighting.outlet_id)
        .join(Claim, Claim.id == Sighting.claim_id)
        .outerjoin(SightingEvidence, SightingEvidence.sighting_id == Sighting.id)
        .where(Sighting.id == sighting_id)
    )
    row = (await session.execute(latest_row)).first()
    if row is None:
        return None
    url, claim_id, slug, tags, evidence = row
    # Re-checks compare with what the source last said, not with an upload.
    latest = await session.scalar(
        select(Capture)
        .where(Capture.sighting_id == sighting_id, Capture.source == CaptureSource.fetch)
        .order_by(Capture.captured_at.desc(), Capture.id.desc())
        .limit(1)
    )
    return Source(
        sighting_id=sighting_id,
        claim_id=claim_id,
        outlet=slug,
        url=url,
        tags=list(tags or []),
        status=evidence.status if evidence is not None else EvidenceStatus.pending,
        first_captured_at=evidence.first_captured_at if evidence is not None else None,
        latest_capture_id=latest.id if latest is not None else None,
        latest_sha256=latest.sha256 if latest is not None else None,
        latest_text_sha256=latest.text_sha256 if latest is not None else None,
    )


async def put_bytes(store: EvidenceStore, data: bytes, temp_dir: Path | None = None) -> str:
    """Store bytes; their digest."""
    with BodyFile(temp_dir) as body:
        body.write(data)
        digest = body.finish()
    try:
        await store.put_file(body.path, sha256=digest)
    finally:
        body.path.unlink(missing_ok=True)
    return digest


class Capturer:
    """Fetches sources and writes down what they answered. One per process."""

    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        fetcher: Fetcher,
        store: EvidenceStore,
        owner: str,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.fetcher = fetcher
        self.store = store
        self.owner = owner
        # Large bodies pass through the store's upload buffers: two at a time bound them.
        self._storing = asyncio.Semaphore(2)

    async def capture(self, sighting_id: str) -> None:
        """Fetch the leased sighting's source and record the outcome (if still leased)."""
        async with self.sessionmaker() as session:
            source = await source_of(session, sighting_id)
        if source is None:
            await self._release(sighting_id)
            return
        result = await self.fetcher.fetch(source.url)
        try:
            kept = await self._read(result, source) if self._answered(result) else None
            await self._record(source, result, kept)
        finally:
            result.discard()

    @staticmethod
    def _answered(result: FetchResult) -> bool:
        return result.problem is None and result.body_path is not None and result.sha256 is not None

    async def _read(self, result: FetchResult, source: Source) -> Kept:
        assert result.body_path is not None and result.sha256 is not None
        title, text = await read_body(
            result.body_path, url=result.final_url, content_type=result.content_type
        )
        kept = Kept(sha256=result.sha256, text_sha256=text_sha256(text), title=title)
        if not self._is_new(source, kept):
            return kept
        async with self._storing:
            await self.store.put_file(result.body_path, sha256=result.sha256)
            if text:
                await put_bytes(self.store, text.encode("utf-8"), self.fetcher.temp_dir)
            kept.warc_sha256 = await self._put_warc(result)
        return kept

    @staticmethod
    def _is_new(source: Source, kept: Kept) -> bool:
        """Whether this answer is kept: the first for the URL, or its text changed."""
        if source.first_captured_at is None or source.latest_capture_id is None:
            return True
        if kept.text_sha256 is not None or source.latest_text_sha256 is not None:
            return kept.text_sha256 != source.latest_text_sha256
        return kept.sha256 != source.latest_sha256

    async def _put_warc(self, result: FetchResult) -> str:
        path, digest = await warc_file(result, self.fetcher.temp_dir)
        try:
            await self.store.put_file(path, sha256=digest)
        finally:
            path.unlink(missing_ok=True)
        return digest

    async def _release(self, sighting_id: str) -> None:
        """Nothing more to fetch for a withdrawn sighting: off the queue, captures kept."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(SightingEvidence)
                .where(
                    SightingEvidence.sighting_id == sighting_id,
                    SightingEvidence.lease_owner == self.owner,
                )
                .values(due_at=None, lease_owner=None)
            )

    async def _record(self, source: Source, result: FetchResult, kept: Kept | None) -> None:
        async with self.sessionmaker() as session:
            taken = await session.scalar(
                update(SightingEvidence)
                .where(
                    SightingEvidence.sighting_id == source.sighting_id,
                    SightingEvidence.lease_owner == self.owner,
                )
                .values(lease_owner=None)
                .returning(SightingEvidence.sighting_id)
            )
            if taken is None:
                # Another worker took the lease over (ours lapsed) or the URL changed: its
                # fetch is the one written down.
                await session.rollback()
                return
            evidence = await session.get(
                SightingEvidence, source.sighting_id, populate_existing=True
            )
            assert evidence is not None
            await self._apply(session, evidence, source, result, kept)
            await outbox.commit(session)

    async def _apply(
        self,
        session: AsyncSession,
        evidence: SightingEvidence,
        source: Source,
        result: FetchResult,
        kept: Kept | None,
    ) -> None:
        now = utcnow()
        evidence.checked_at = now
        if result.http_status in GONE_STATUSES:
            await self._gone(session, evidence, source, result, now)
        elif kept is None:
            self._failed(evidence, result.problem or "no answer", now)
        else:
            await self._answered_with(session, evidence, source, result, kept, now)

    def _schedule(self, evidence: SightingEvidence, now: datetime) -> None:
        evidence.attempts = 0
        if evidence.first_captured_at is None:
            evidence.due_at = None
            return
        evidence.due_at, evidence.rechecks = next_check(
            evidence.first_captured_at, self.settings.recheck_days, now
        )

    def _failed(self, evidence: SightingEvidence, problem: str, now: datetime) -> None:
        evidence.problem = problem
        if evidence.first_captured_at is None:
            evidence.status = EvidenceStatus.failed
        evidence.attempts += 1
        delays = self.settings.capture_retry_seconds
        if evidence.attempts < self.settings.capture_tries and delays:
            wait = delays[min(evidence.attempts, len(delays)) - 1]
            evidence.due_at = now + timedelta(seconds=wait)
        else:
            self._schedule(evidence, now)

    async def _gone(
        self,
        session: AsyncSession,
        evidence: SightingEvidence,
        source: Source,
        result: FetchResult,
        now: datetime,
    ) -> None:
        was = evidence.status
        evidence.status = EvidenceStatus.gone
        evidence.problem = f"HTTP {result.http_status}"
        self._schedule(evidence, now)
        if was != EvidenceStatus.gone:
            await self._announce(session, SourceGone, source, None, result.http_status)

    async def _answered_with(
        self,
        session: AsyncSession,
        evidence: SightingEvidence,
        source: Source,
        result: FetchResult,
        kept: Kept,
        now: datetime,
    ) -> None:
        evidence.status = EvidenceStatus.captured
        evidence.problem = None
        first = evidence.first_captured_at is None
        if kept.warc_sha256 is not None:
            capture = Capture(
                id=new_id(),
                sighting_id=source.sighting_id,
                source=CaptureSource.fetch,
                requested_url=result.requested_url,
                final_url=result.final_url,
                http_status=result.http_status,
                content_type=result.content_type,
                size=result.size,
                sha256=kept.sha256,
                text_sha256=kept.text_sha256,
                title=kept.title,
                captured_at=now,
                warc_sha256=kept.warc_sha256,
            )
            session.add(capture)
            evidence.captures += 1
            evidence.latest_capture_id = capture.id
            if evidence.first_captured_at is None:
                evidence.first_captured_at = now
            kind = EvidenceCaptured if first else SourceChanged
            await self._announce(session, kind, source, capture.id, result.http_status)
        self._schedule(evidence, now)

    async def _announce(
        self,
        session: AsyncSession,
        kind: type[EvidenceCaptured] | type[SourceChanged] | type[SourceGone],
        source: Source,
        capture_id: str | None,
        http_status: int | None,
    ) -> None:
        event = kind(
            sighting_id=source.sighting_id,
            claim_id=source.claim_id,
            outlet=source.outlet,
            url=source.url,
            capture_id=capture_id,
            previous_capture_id=source.latest_capture_id,
            http_status=http_status,
        )
        await outbox.emit(session=session, event=event, claim_id=source.claim_id, tags=source.tags)
