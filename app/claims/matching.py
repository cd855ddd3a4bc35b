"""Is this claim already tracked? Ranking existing claims against a text in the asker's words.

Two signals, combined. Sentence vectors from a multilingual model (see `vectors`) find a claim
told in another language or in other words; the lexical signals (see `lexical`) keep names and
numbers honest, so that "100,000 troops" and "1,000 workers" do not match just because the
sentences are built alike. Candidates are the claims nearest by vector together with those
sharing most trigrams with the query; each is scored through every wording the ledger holds of
it (statement, summary, sightings' titles and excerpts).

Each match is "same" (safe to link without review) when its score clears `match_same_score`,
leads the next claim by `match_same_margin` and no number contradicts it; otherwise "similar".
Without the model, matching is lexical alone and only a wording held word for word is "same".
"""

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.claims import embeddings, language, vectors
from app.claims.lexical import (
    match_key,
    number_agreement,
    numbers_of,
    similarity,
    terms_of,
    word_similarity,
)
from app.claims.models import Claim, ClaimTerm, ClaimVector
from app.config import Settings
from app.db import insert_many_or_ignore
from app.enums import MatchVerdict
from app.errors import Invalid
from app.sightings.models import Sighting

# Claims scored per request from each source: those sharing most of the query's rarer trigrams,
# and those nearest by vector. On bench/match_eval with 20,000 distractors more of either found
# nothing more, and 25 of either lost nothing.
CANDIDATES = 50
NEAREST = 50
# Trigram rows the lexical candidates are read from, at most: the query's trigrams are taken
# rarest first while their rows fit. A trigram most claims share ("_po", "ion") costs a row per
# claim and ranks none above another; names, numbers and unusual words are rare. Reading every
# trigram's rows cost a match at 20,000 claims about as much CPU as embedding the query, for the
# same first matches on bench/match_eval.
POSTINGS_READ = 2_000
# How long a process trusts its count of the claims holding a trigram. The counts only choose
# which of a query's trigrams are read, so an old count costs rows read, not a score. Keys hold
# only a-z, 0-9 and the word boundary, so there are at most 37^3 trigrams to count.
FREQUENCY_TTL_SECONDS = 600.0
# Sightings whose titles and excerpts a match compares, per candidate claim: the earliest ones.
# A claim told ten thousand times costs what one told twenty times does.
SIGHTINGS_COMPARED = 20
# The hybrid score: how much the vector's cosine weighs against the words' similarity, and how
# far numbers that agree or contradict move it. Chosen on bench/match_eval (README, "Matching").
VECTOR_WEIGHT = 0.7
NUMBER_WEIGHT = 0.1
# Claims whose vectors a command embeds before it commits (`tracer reindex`, `tracer demo`),
# kept in the session's info; requests leave them to the indexer (`indexing`).
_PENDING = "matching.pending_vectors"


@dataclass(frozen=True)
class Match:
    claim: Claim
    score: float
    match: MatchVerdict


async def index_wordings(*, session: AsyncSession, claim_id: str, texts: list[str | None]) -> None:
    """Add new wordings of a claim (its statement, summary, or a sighting's title and excerpt).

    The words are indexed at once, so the claim is found by them as soon as this commits; its
    vector follows in the background (`indexing`), once per claim however many wordings a batch
    adds.
    """
    rows = [{"term": term, "claim_id": claim_id} for term in sorted(terms_of(*texts))]
    await insert_many_or_ignore(session, ClaimTerm, rows)
    session.info.setdefault(_PENDING, set()).add(claim_id)


async def index_many_wordings(
    *,
    session: AsyncSession,
    wordings: Mapping[str, Iterable[str | None]],
    held: Mapping[str, Iterable[str | None]] | None = None,
    committed_apart: bool = False,
) -> None:
    """`index_wordings` for many claims, in one statement.

    `held` names wordings whose words each claim holds already (its statement): a title
    mostly repeats them, and each row offered costs an index lookup even when it is there.
    With `committed_apart`, the words go in in a short transaction of their own, committed
    at once; the claims must be committed already.
    """
    held = held or {}
    rows = [
        {"term": term, "claim_id": claim_id}
        for claim_id, texts in sorted(wordings.items())
        for term in sorted(terms_of(*texts) - terms_of(*held.get(claim_id, ())))
    ]
    if committed_apart:
        async with AsyncSession(session.bind, autoflush=False) as apart:
            # The words name their claims without a foreign key. A merge locks the claim it
            # retires for the whole of its transaction, which this share of the claims' keys
            # waits for: a claim merged meanwhile is gone when the wait ends, and gets no words.
            present = set(
                await apart.scalars(
                    select(Claim.id)
                    .where(Claim.id.in_(sorted(wordings)))
                    .order_by(Claim.id)
                    .with_for_update(read=True, key_share=True)
                )
            )
            kept = [row for row in rows if row["claim_id"] in present]
            await insert_many_or_ignore(apart, ClaimTerm, kept)
            await apart.commit()
    else:
        await insert_many_or_ignore(session, ClaimTerm, rows)
    session.info.setdefault(_PENDING, set()).update(wordings)


async def embed_pending(*, session: AsyncSession) -> None:
    """Recompute, before the commit, the vectors of every claim given new wordings in this
    transaction: for commands, which have nobody waiting on them."""
    pending: set[str] = session.info.pop(_PENDING, set())
    if pending:
        await session.flush()
        await vectors.store(session, sorted(pending))


async def reindex_claim(*, session: AsyncSession, claim_id: str, embed: bool = True) -> None:
    """Rebuild what matching keeps of a claim (terms and vectors) from its current wordings.

    For after a correction, a withdrawal or a merge: wordings that are gone stop counting.
    With `embed=False` the vector waits for the indexer, or for `embed_pending`.
    """
    await session.flush()
    texts = await vectors.wordings(session, claim_id)
    await session.execute(delete(ClaimTerm).where(ClaimTerm.claim_id == claim_id))
    await insert_many_or_ignore(
        session, ClaimTerm, [{"term": t, "claim_id": claim_id} for t in sorted(terms_of(*texts))]
    )
    if not embed:
        session.info.setdefault(_PENDING, set()).add(claim_id)
        return
    session.info.get(_PENDING, set()).discard(claim_id)
    if not await vectors.store(session, [claim_id]):
        # Without a model, a stale vector would keep matching what the claim no longer says.
        await session.execute(delete(ClaimVector).where(ClaimVector.claim_id == claim_id))


async def forget_claim(*, session: AsyncSession, claim_id: str) -> None:
    """Drop the words of a claim about to leave the ledger (a merged duplicate). Its vectors
    go with its row; its words are kept without a key to it, as every batch writes hundreds."""
    await session.execute(delete(ClaimTerm).where(ClaimTerm.claim_id == claim_id))


# Per database, each trigram's count of claims and when it was counted; a few databases, as for
# the vectors (vectors.MAX_DATABASES).
_frequencies: dict[str, dict[str, tuple[int, float]]] = {}


async def _term_frequencies(session: AsyncSession, terms: set[str]) -> dict[str, int]:
    """How many claims hold each of these trigrams, counting only those not counted lately."""
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    if key not in _frequencies and len(_frequencies) >= vectors.MAX_DATABASES:
        del _frequencies[next(iter(_frequencies))]
    known = _frequencies.setdefault(key, {})
    now = time.monotonic()
    stale = sorted(t for t in terms if t not in known or now - known[t][1] > FREQUENCY_TTL_SECONDS)
    if stale:
        counted: dict[str, int] = {t: 0 for t in stale}
        holding = (
            select(ClaimTerm.term, func.count())
            .where(ClaimTerm.term.in_(stale))
            .group_by(ClaimTerm.term)
        )
        for term, claims in await session.execute(holding):
            counted[term] = claims
        known.update((t, (count, now)) for t, count in counted.items())
    return {t: known[t][0] for t in terms}


def _rarest(frequencies: dict[str, int]) -> list[str]:
    """The rarest trigrams whose rows together fit in POSTINGS_READ (always at least one)."""
    chosen: list[str] = []
    rows = 0
    for term in sorted(frequencies, key=lambda t: (frequencies[t], t)):
        if chosen and rows + frequencies[term] > POSTINGS_READ:
            break
        chosen.append(term)
        rows += frequencies[term]
    return chosen


async def _lexical_candidates(session: AsyncSession, terms: set[str]) -> list[str]:
    """The claims sharing most of the query's rarer trigrams."""
    rare = _rarest(await _term_frequencies(session, terms))
    if not rare:
        return []
    shared = func.count().label("shared")
    rows = await session.execute(
        select(ClaimTerm.claim_id, shared)
        .where(ClaimTerm.term.in_(rare))
        .group_by(ClaimTerm.claim_id)
        .order_by(shared.desc(), ClaimTerm.claim_id)
        .limit(CANDIDATES)
    )
    return [claim_id for claim_id, _ in rows]


async def _wordings(session: AsyncSession, claim_ids: list[str]) -> dict[str, list[str]]:
    """The wordings of these claims, by claim: statement, summary, earliest sightings' texts."""
    texts: dict[str, list[str]] = {claim_id: [] for claim_id in claim_ids}
    for claim_id, statement, summary in await session.execute(
        select(Claim.id, Claim.statement, Claim.summary).where(Claim.id.in_(claim_ids))
    ):
        texts[claim_id].extend(t for t in (statement, summary) if t)
    order = func.row_number().over(
        partition_by=Sighting.claim_id, order_by=(Sighting.published_at, Sighting.id)
    )
    ranked = (
        select(Sighting.claim_id, Sighting.title, Sighting.excerpt, order.label("n"))
        .where(
            Sighting.claim_id.in_(claim_ids),
            or_(Sighting.title.is_not(None), Sighting.excerpt.is_not(None)),
        )
        .subquery()
    )
    sightings = await session.execute(
        select(ranked.c.claim_id, ranked.c.title, ranked.c.excerpt).where(
            ranked.c.n <= SIGHTINGS_COMPARED
        )
    )
    for claim_id, title, excerpt in sightings:
        texts[claim_id].extend(t for t in (title, excerpt) if t)
    return texts


async def _cosines(
    session: AsyncSession, text: str, encoding: "asyncio.Task[embeddings.Vectors | None]"
) -> vectors.Cosines | None:
    """Every claim's cosine with the query by vector; None when the model is unavailable."""
    index = await vectors.current_index(session)
    encoded = await encoding
    if encoded is None:
        return None
    return index.search(encoded[0], language.detect(text))


def _hybrid(query_key: str, texts: list[str], cosine: float | None) -> tuple[float, int | None]:
    """A claim's score in [0, 1] from its wordings and cosine, and whether numbers agree.

    The agreement is -1 (numbers contradict), 0 or 1; None when there is no vector to judge by.
    """
    keys = [match_key(t) for t in texts]
    if query_key in keys:
        # The same words as a wording already held: nothing can be closer.
        return 1.0, 1
    if cosine is None:
        return max((similarity(query_key, k) for k in keys), default=0.0), None
    words = max((word_similarity(query_key, k) for k in keys), default=0.0)
    stated = set().union(*(numbers_of(k) for k in keys)) if keys else set()
    agreement = number_agreement(numbers_of(query_key), stated)
    score = VECTOR_WEIGHT * max(cosine, 0.0) + (1 - VECTOR_WEIGHT) * words
    return min(1.0, max(0.0, score + NUMBER_WEIGHT * agreement)), agreement


async def match(*, session: AsyncSession, text: str, limit: int, settings: Settings) -> list[Match]:
    """Existing claims that say what `text` says, best first, each with a score in [0, 1]."""
    query_key = match_key(text)
    if not query_key:
        raise Invalid("text has no words to match once punctuation is stripped", loc=["text"])
    # The query is embedded in a worker thread while the database is asked for candidates.
    encoding = asyncio.create_task(embeddings.encode([text], is_query=True))
    try:
        candidates = await _lexical_candidates(session, terms_of(text))
        cosines = await _cosines(session, text, encoding)
    finally:
        if not encoding.done():
            encoding.cancel()
    if cosines is not None:
        candidates = list(dict.fromkeys([*cosines.nearest(NEAREST), *candidates]))
    scored: list[tuple[float, int | None, str]] = []
    for claim_id, texts in (await _wordings(session, candidates)).items():
        # A claim without a vector yet (stored before the model, not reindexed) is judged by
        # its words, as it would be without the model.
        cosine = cosines.get(claim_id) if cosines is not None else None
        score, agreement = _hybrid(query_key, texts, cosine)
        if score >= settings.match_min_score:
            scored.append((score, agreement, claim_id))
    scored.sort(key=lambda s: (-s[0], s[2]))
    top = scored[:limit]
    claims = {
        c.id: c
        for c in await session.scalars(select(Claim).where(Claim.id.in_([i for _, _, i in top])))
    }
    found = []
    for rank, (score, agreement, claim_id) in enumerate(top):
        runner_up = scored[rank + 1][0] if rank + 1 < len(scored) else 0.0
        same = (
            rank == 0
            and agreement is not None
            and agreement >= 0
            and score >= settings.match_same_score
            and score - runner_up >= settings.match_same_margin
        )
        verdict = MatchVerdict.same if same else MatchVerdict.similar
        found.append(Match(claim=claims[claim_id], score=round(score, 4), match=verdict))
    return found


def status() -> dict[str, str]:
    """How matching works in this process, for /readyz: with the model, or lexically."""
    embedder = embeddings.current()
    if embedder.available():
        return {"matcher": "hybrid", "model": embedder.name}
    return {"matcher": "lexical", "reason": embedder.error or "model unavailable"}
