"""Claims as sentence vectors: written to the database, searched exactly in memory.

Each claim keeps one vector per language its wordings are in. Every process holds a copy of all
vectors as one matrix and, before each search, asks the database with one cheap query whether
anything changed (how many vectors, and the newest `updated_at`); if so it reads what changed.

Before comparing, every vector has its language's mean vector subtracted. Sentence vectors of a
language share a large common part, so without this a query prefers any sentence in its own
language over the right claim told in another. The means are estimated from the stored vectors,
shrunk towards the mean of all of them, and that towards the mean of a few everyday sentences,
while there are few: with a handful of claims the mean would be the claims themselves, and
centring would erase them.
"""

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.claims import embeddings, language
from app.claims.embeddings import Vectors
from app.claims.models import Claim, ClaimVector
from app.db import key_chunks, key_in, utcnow
from app.sightings.models import Sighting

# How many vectors of a language count as much as the prior they are shrunk towards.
SHRINKAGE = 50
# Wordings read per claim: the statement, the summary and the earliest sightings' titles and
# excerpts. A claim told a thousand times says nothing new in the thousandth telling.
SIGHTINGS_READ = 200
# How far a claim's text may grow past the text its vector was embedded from before the
# background embeds it again: a claim told in a thousand batches would otherwise be embedded
# after each of them, its whole text every time, where a few steps, each half as long again as
# the last, keep its vector to at least two thirds of what it says.
GROWTH = 1.5
# A writer's transaction may commit a little after the `updated_at` it wrote; re-reading this far
# back keeps a process from missing it.
OVERLAP = timedelta(minutes=5)


async def wordings(session: AsyncSession, claim_id: str) -> list[str]:
    """A claim's current wordings: statement, summary, then its earliest sightings' texts."""
    return (await wordings_of(session, [claim_id])).get(claim_id, [])


async def wordings_of(session: AsyncSession, claim_ids: list[str]) -> dict[str, list[str]]:
    """`wordings` of many claims in two queries; a claim that does not exist has none."""
    found: dict[str, list[str | None]] = {}
    for claim_id, statement, summary in await session.execute(
        select(Claim.id, Claim.statement, Claim.summary).where(Claim.id.in_(claim_ids))
    ):
        found[claim_id] = [statement, summary]
    order = func.row_number().over(
        partition_by=Sighting.claim_id, order_by=(Sighting.published_at, Sighting.id)
    )
    ranked = (
        select(Sighting.claim_id, Sighting.title, Sighting.excerpt, order.label("n"))
        .where(
            Sighting.claim_id.in_(list(found)),
            Sighting.title.is_not(None) | Sighting.excerpt.is_not(None),
        )
        .subquery()
    )
    sightings = await session.execute(
        select(ranked.c.claim_id, ranked.c.title, ranked.c.excerpt)
        .where(ranked.c.n <= SIGHTINGS_READ)
        .order_by(ranked.c.claim_id, ranked.c.n)
    )
    for claim_id, title, excerpt in sightings:
        found[claim_id].extend((title, excerpt))
    return {
        claim_id: list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))
        for claim_id, texts in found.items()
    }


def by_language(texts: list[str]) -> dict[str, str]:
    """The texts grouped by language, each group one text of at most MAX_CHARS characters."""
    groups: dict[str, list[str]] = {}
    for text in texts:
        groups.setdefault(language.detect(text), []).append(text)
    return {lang: "\n".join(group)[: embeddings.MAX_CHARS] for lang, group in groups.items()}


def digest(text: str) -> str:
    """What a vector was embedded from, for telling whether it must be embedded again."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Plan:
    """What bringing some claims' vectors up to date takes: the texts to embed, and the stored
    vectors that no longer fit any wording."""

    model: str
    texts: dict[tuple[str, str], str] = field(default_factory=dict)
    stale: list[tuple[str, str]] = field(default_factory=list)


def _still_fits(
    stored: tuple[str, str | None, int | None], model: str, text: str, grown: bool
) -> bool:
    stored_model, stored_digest, chars = stored
    if stored_model != model:
        return False
    if stored_digest == digest(text):
        return True
    # The text now starts with the one embedded (later sightings only added to it), which
    # still makes up two thirds of it.
    return (
        grown
        and chars is not None
        and chars * GROWTH >= len(text)
        and stored_digest == digest(text[:chars])
    )


async def plan(session: AsyncSession, claim_ids: list[str], *, keep_grown: bool = False) -> Plan:
    """Compare these claims' wordings with their stored vectors; reads only.

    A vector whose text and model are unchanged is kept as it is: once a claim's earliest
    wordings fill the text (`SIGHTINGS_READ`, `embeddings.MAX_CHARS`) a later sighting no longer
    changes it, and embedding is what indexing costs. With `keep_grown`, so is one whose text
    the claim's has only grown past, by less than `GROWTH`: a changed or removed wording, or
    one told as earlier than the rest, changes the text's start and is embedded again at once.
    """
    model = embeddings.current().name
    wanted: dict[tuple[str, str], str] = {}
    for claim_id, texts in (await wordings_of(session, claim_ids)).items():
        for lang, text in by_language(texts).items():
            wanted[claim_id, lang] = text
    stored = {
        (claim_id, lang): (stored_model, stored_digest, chars)
        for claim_id, lang, stored_model, stored_digest, chars in await session.execute(
            select(
                ClaimVector.claim_id,
                ClaimVector.language,
                ClaimVector.model,
                ClaimVector.digest,
                ClaimVector.chars,
            ).where(ClaimVector.claim_id.in_(claim_ids))
        )
    }
    fresh = {
        key: text
        for key, text in wanted.items()
        if key not in stored or not _still_fits(stored[key], model, text, keep_grown)
    }
    stale = [key for key in stored if key not in wanted or key in fresh]
    return Plan(model=model, texts=fresh, stale=stale)


async def embed(plan: Plan) -> list[dict[str, Any]] | None:
    """The rows of the plan's new vectors; None without a model. Touches no database."""
    if not plan.texts:
        return []
    encoded = await embeddings.encode(list(plan.texts.values()), is_query=False)
    if encoded is None:
        return None
    now = utcnow()
    return [
        {
            "claim_id": claim_id,
            "language": lang,
            "model": plan.model,
            "digest": digest(text),
            "chars": len(text),
            "vector": embeddings.to_bytes(vector),
            "updated_at": now,
        }
        for ((claim_id, lang), text), vector in zip(plan.texts.items(), encoded, strict=True)
    ]


async def write(session: AsyncSession, plan: Plan, rows: list[dict[str, Any]]) -> None:
    """Replace the plan's stale vectors with `rows`."""
    replaced = sorted(set(plan.stale) | {(row["claim_id"], row["language"]) for row in rows})
    key = [ClaimVector.claim_id, ClaimVector.language]
    dialect = session.get_bind().dialect.name
    for chunk in key_chunks(replaced):
        await session.execute(delete(ClaimVector).where(key_in(dialect, key, chunk)))
    if rows:
        # A claim deleted (merged away) since the plan was read has no row left to point at.
        live = set(
            await session.scalars(
                select(Claim.id).where(Claim.id.in_({r["claim_id"] for r in rows}))
            )
        )
        rows = [row for row in rows if row["claim_id"] in live]
    if rows:
        await session.execute(insert(ClaimVector), rows)


async def store(session: AsyncSession, claim_ids: list[str]) -> bool:
    """Bring these claims' vectors up to date with their current wordings, in this transaction;
    False without a model."""
    planned = await plan(session, claim_ids)
    rows = await embed(planned)
    if rows is None:
        return False
    await write(session, planned, rows)
    return True


@dataclass
class Index:
    """Every stored vector of one database, centred by language, as one matrix."""

    marker: tuple[int, datetime | None] = (0, None)
    rows: dict[tuple[str, str], Vectors] = field(default_factory=dict)
    claims: list[str] = field(default_factory=list)
    position: dict[str, int] = field(default_factory=dict)
    owners: npt.NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp))
    matrix: Vectors = field(default_factory=lambda: np.zeros((0, embeddings.DIMENSIONS), "f4"))
    means: dict[str, Vectors] = field(default_factory=dict)
    prior: Vectors = field(default_factory=lambda: np.zeros(embeddings.DIMENSIONS, "f4"))

    def rebuild(self, baseline: Vectors | None) -> None:
        """Centre and stack the rows; called off the event loop after every change."""
        keys = sorted(self.rows)
        raw = (
            np.stack([self.rows[k] for k in keys])
            if keys
            else np.zeros((0, embeddings.DIMENSIONS), "f4")
        )
        total = len(keys)
        start = np.zeros_like(self.prior) if baseline is None else baseline
        overall = (raw.sum(axis=0) + SHRINKAGE * start) / (total + SHRINKAGE)
        langs = np.array([lang for _, lang in keys])
        means = {}
        for lang in set(langs.tolist()):
            members = raw[langs == lang]
            means[lang] = (members.sum(axis=0) + SHRINKAGE * overall) / (len(members) + SHRINKAGE)
        centred = raw - np.stack([means[lang] for lang in langs]) if keys else raw
        self.matrix = _unit(centred)
        self.claims = list(dict.fromkeys(claim_id for claim_id, _ in keys))
        self.position = {claim_id: n for n, claim_id in enumerate(self.claims)}
        self.owners = np.array([self.position[claim_id] for claim_id, _ in keys], dtype=np.intp)
        self.means, self.prior = means, overall

    def search(self, query: Vectors, query_language: str) -> "Cosines":
        """Each claim's best cosine with the centred query (over its languages' vectors)."""
        best = np.full(len(self.claims), -1.0, dtype=np.float32)
        if self.claims:
            centred = _unit(query - self.means.get(query_language, self.prior))
            np.maximum.at(best, self.owners, self.matrix @ centred)
        return Cosines(self, best)


@dataclass(frozen=True)
class Cosines:
    """One query's cosines with every claim that has a vector."""

    index: Index
    best: Vectors

    def nearest(self, count: int) -> list[str]:
        """The claims of highest cosine, best first."""
        count = min(count, len(self.best))
        if count == 0:
            return []
        top = np.argpartition(-self.best, count - 1)[:count]
        return [self.index.claims[n] for n in top[np.argsort(-self.best[top])]]

    def get(self, claim_id: str) -> float | None:
        """This claim's cosine, or None when it has no vector."""
        position = self.index.position.get(claim_id)
        return None if position is None else float(self.best[position])


def _unit(rows: Vectors) -> Vectors:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.asarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)


# Databases a process keeps an index for; one in service, a few in tests and benchmarks.
MAX_DATABASES = 4
_indexes: dict[str, Index] = {}


async def _marker(session: AsyncSession, model: str) -> tuple[int, datetime | None]:
    count, newest = (
        await session.execute(
            select(func.count(), func.max(ClaimVector.updated_at)).where(ClaimVector.model == model)
        )
    ).one()
    return int(count), newest


async def _read(
    session: AsyncSession, model: str, since: datetime | None
) -> dict[tuple[str, str], Vectors]:
    query = select(ClaimVector.claim_id, ClaimVector.language, ClaimVector.vector).where(
        ClaimVector.model == model
    )
    if since is not None:
        query = query.where(ClaimVector.updated_at >= since - OVERLAP)
    rows = await session.execute(query)
    return {(c, lang): embeddings.from_bytes(v) for c, lang, v in rows}


async def current_index(session: AsyncSession) -> Index:
    """This process's copy of the database's vectors, brought up to date first if need be."""
    model = embeddings.current().name
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    if key not in _indexes and len(_indexes) >= MAX_DATABASES:
        del _indexes[next(iter(_indexes))]
    index = _indexes.setdefault(key, Index())
    marker = await _marker(session, model)
    if marker == index.marker:
        return index
    fresh = Index(marker=marker, rows=dict(index.rows))
    if index.marker[1] is not None and marker[0] >= index.marker[0]:
        fresh.rows.update(await _read(session, model, index.marker[1]))
    if len(fresh.rows) != marker[0]:
        # Something was deleted, or this is the first read: read everything.
        fresh.rows = await _read(session, model, None)
    await asyncio.to_thread(lambda: fresh.rebuild(embeddings.current().baseline()))
    _indexes[key] = fresh
    return fresh
