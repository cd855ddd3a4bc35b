"""Is this claim already tracked? Ranking existing claims against a text in the asker's words.

Both sides are reduced to a matching key (diacritics, case and number formats folded away, words
stemmed, function words dropped, Cyrillic transliterated so that names and shared roots meet
across scripts) and compared with rapidfuzz's token similarities, which do not care about word
order, nudged by whether the two agree on their numbers. A claim is compared through every
wording the ledger holds of it: its statement, its summary, and the titles and excerpts of its
sightings, so a query in Russian finds a claim stated in English through its Russian sightings.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
from anyascii import anyascii
from rapidfuzz import fuzz
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.claims.models import Claim, ClaimTerm
from app.db import insert_many_or_ignore
from app.errors import Invalid
from app.sightings.models import Sighting

# Below this a "match" shares little more than a word or two; showing it would only be noise.
MIN_SCORE = 0.3
NUMBER_STEP = 0.05

_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:[ ,.'’\u00a0\u2009\u202f]\d{3})+)(?![\d])")
_SCALES = [
    (1_000, r"k|к|thousands?|тыс|тысяч[аи]?|тис|тисяч[аі]?|tausend|mille"),
    (1_000_000, r"m|mn|mln|millions?|млн|миллион(?:а|ов)?|мільйон(?:а|ів|и)?|millionen|mio"),
    (1_000_000_000, r"bn|billions?|млрд|миллиард(?:а|ов)?|мільярд(?:а|ів|и)?|milliarden|mrd"),
]
_BARE_THOUSAND = r"\b(?:a|one|одна|одну)?\s*(?:thousand|тысяч[аиу]|тисяч[аіу])\b"
_WORD = re.compile(r"\w+")
_NOT_KEY = re.compile(r"[^a-z0-9 ]")
_NUMBER = re.compile(r"\b\d+\b")
_CYRILLIC = re.compile(r"[а-яёіїєґ]")

_english = Stemmer.Stemmer("english")
_russian = Stemmer.Stemmer("russian")


def _fold(text: str) -> str:
    """Case-folded, without diacritics: "Zaporižžja" and "zaporizzja" compare equal."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Function words of the languages the desks work in: they carry no claim.
_STOPWORDS = """
    a an the of to in on at for by with from and or but is are was were be been has have had
    that this these those it its as up about than into over will would can could not no
    и в во на с со к по о об от для из за у же ли не что это как а но или до над под при
    і й та в у на з із зі до від для за по про що це як але чи не над під при
    der die das den dem des ein eine einen und oder in im an am auf mit von zu für ist sind wird
    le la les un une des du de et ou en au aux à pour par avec sur est sont a été
    """

STOPWORDS = frozenset(_fold(word) for word in _STOPWORDS.split())
# Matched against folded text, so folded themselves ("мільйон" is "мільион" by then).
_SCALED = [
    # Starting only where a digit run starts, without backtracking into it: a long run of
    # digits would otherwise be rescanned from each of its digits, in quadratic time.
    (factor, re.compile(rf"(?<!\d)(\d++(?:[.,]\d++)?)\s*(?:{_fold(words)})\b\.?"))
    for factor, words in _SCALES
]
_ONE_THOUSAND = re.compile(_fold(_BARE_THOUSAND))


def _numbers(text: str) -> str:
    """One spelling per number: "100,000", "100 000", "100k" and "100 thousand" become 100000."""
    text = _THOUSANDS.sub(lambda m: m.group(1) + re.sub(r"\D", "", m.group(2)), text)
    for factor, pattern in _SCALED:

        def scaled(found: re.Match[str], factor: int = factor) -> str:
            value = float(found.group(1).replace(",", ".")) * factor
            # A run of thousands of digits is no count of anything; it is left as written.
            return f" {round(value)} " if value < 1e18 else found.group(0)

        text = pattern.sub(scaled, text)
    return _ONE_THOUSAND.sub(" 1000 ", text)


def _stem(word: str) -> str:
    if word.isdigit():
        return word
    # Ukrainian has no Snowball stemmer; Russian's endings are close enough to fold its forms.
    stemmer = _russian if _CYRILLIC.search(word) else _english
    stemmed: str = stemmer.stemWord(word)
    return stemmed


# Sized for a quarter of a million wordings; past that every request recomputes some keys.
@lru_cache(maxsize=250_000)
def match_key(text: str) -> str:
    """The form of a text that matching compares."""
    words = _WORD.findall(_numbers(_fold(text)))
    stems = " ".join(_stem(w) for w in words if w not in STOPWORDS and w != "_")
    # Transliterated after stemming, so each language's stemmer still sees its own script.
    return _NOT_KEY.sub("", anyascii(stems).lower())


def similarity(query_key: str, key: str) -> float:
    """Similarity of two matching keys in [0, 1], blind to word order.

    Token-set similarity alone scores 1.0 whenever one text's words are a subset of the
    other's, so a one-word query would "match" every claim containing it; averaging it with
    token-sort similarity keeps that in proportion. Numbers are what most claims turn on
    ("100,000 troops" is not "a thousand workers"), so when both texts hold numbers, sharing
    one moves the score up a little and sharing none moves it down; the step was measured on
    bench/match_eval.
    """
    score = (fuzz.token_set_ratio(query_key, key) + fuzz.token_sort_ratio(query_key, key)) / 200
    asked, stated = set(_NUMBER.findall(query_key)), set(_NUMBER.findall(key))
    if asked and stated:
        score += NUMBER_STEP if asked & stated else -NUMBER_STEP
    return min(1.0, max(0.0, score))


@dataclass(frozen=True)
class Match:
    claim: Claim
    score: float


# Claims scored per request: those sharing most trigrams with the query. On bench/match_eval
# with 20,000 distractors, scoring every claim instead found one more answer in the top 3, at
# seven times the time; scoring 500 found none more than 200.
CANDIDATES = 200


def terms_of(*texts: str | None) -> set[str]:
    """What the term index stores of these texts: the trigrams of their matching keys' words.

    Trigrams rather than whole words, so that candidates are found the way the scoring judges
    them, by shared letters: a transliterated stem a letter off ("voisk", "vojsk") still meets.
    """
    grams: set[str] = set()
    for text in texts:
        for word in match_key(text).split() if text else ():
            padded = f"_{word}_"
            grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


async def index_wordings(*, session: AsyncSession, claim_id: str, texts: list[str | None]) -> None:
    """Add new wordings of a claim (its statement, summary, or a sighting's title and excerpt)."""
    rows = [{"term": term, "claim_id": claim_id} for term in sorted(terms_of(*texts))]
    await insert_many_or_ignore(session, ClaimTerm, rows)


async def _candidates(session: AsyncSession, terms: set[str]) -> list[str]:
    shared = func.count().label("shared")
    rows = await session.execute(
        select(ClaimTerm.claim_id, shared)
        .where(ClaimTerm.term.in_(sorted(terms)))
        .group_by(ClaimTerm.claim_id)
        .order_by(shared.desc(), ClaimTerm.claim_id)
        .limit(CANDIDATES)
    )
    return [claim_id for claim_id, _ in rows]


async def _wordings(session: AsyncSession, claim_ids: list[str]) -> tuple[list[str], list[str]]:
    """Every wording of these claims, as parallel lists of claim ids and texts."""
    owners: list[str] = []
    texts: list[str] = []
    for claim_id, statement, summary in await session.execute(
        select(Claim.id, Claim.statement, Claim.summary).where(Claim.id.in_(claim_ids))
    ):
        owners.append(claim_id)
        texts.append(statement)
        if summary:
            owners.append(claim_id)
            texts.append(summary)
    sightings = await session.execute(
        select(Sighting.claim_id, Sighting.title, Sighting.excerpt).where(
            Sighting.claim_id.in_(claim_ids),
            or_(Sighting.title.is_not(None), Sighting.excerpt.is_not(None)),
        )
    )
    for claim_id, title, excerpt in sightings:
        for text in (title, excerpt):
            if text:
                owners.append(claim_id)
                texts.append(text)
    return owners, texts


async def match(*, session: AsyncSession, text: str, limit: int) -> list[Match]:
    """Existing claims that say what `text` says, best first, each with a score in [0, 1]."""
    query_key = match_key(text)
    if not query_key:
        raise Invalid("text has no words to match once punctuation is stripped", loc=["text"])
    candidates = await _candidates(session, terms_of(text))
    owners, texts = await _wordings(session, candidates)
    best: dict[str, float] = {}
    for owner, text_of_claim in zip(owners, texts, strict=True):
        score = similarity(query_key, match_key(text_of_claim))
        if score >= MIN_SCORE and score > best.get(owner, 0.0):
            best[owner] = score
    top = sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
    claims = {
        c.id: c
        for c in await session.scalars(select(Claim).where(Claim.id.in_([i for i, _ in top])))
    }
    return [Match(claim=claims[claim_id], score=round(score, 4)) for claim_id, score in top]
