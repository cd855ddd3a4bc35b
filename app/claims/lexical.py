"""The words of a claim, as matching compares them across wordings, scripts and number formats.

Both sides are reduced to a matching key (diacritics, case and number formats folded away, words
stemmed, function words dropped, Cyrillic transliterated so that names and shared roots meet
across scripts) and compared with rapidfuzz's token similarities, which do not care about word
order. Numbers are compared apart: what most claims turn on is a number.
"""

import re
import unicodedata
from functools import lru_cache

import Stemmer
from anyascii import anyascii
from rapidfuzz import fuzz

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


def word_similarity(query_key: str, key: str) -> float:
    """Similarity of two matching keys' words in [0, 1], blind to word order.

    Token-set similarity alone scores 1.0 whenever one text's words are a subset of the
    other's, so a one-word query would "match" every claim containing it; averaging it with
    token-sort similarity keeps that in proportion.
    """
    return (fuzz.token_set_ratio(query_key, key) + fuzz.token_sort_ratio(query_key, key)) / 200


def numbers_of(key: str) -> set[str]:
    """The numbers a matching key holds, each in its one spelling."""
    return set(_NUMBER.findall(key))


def number_agreement(asked: set[str], stated: set[str]) -> int:
    """1 when two texts share a number, -1 when both hold numbers and share none, else 0.

    Numbers are what most claims turn on: "100,000 troops" is not "a thousand workers".
    """
    if not asked or not stated:
        return 0
    return 1 if asked & stated else -1


def similarity(query_key: str, key: str) -> float:
    """Word similarity moved a step up or down by whether the numbers agree, in [0, 1].

    The step was measured on bench/match_eval; this is the whole score when no sentence vectors
    are at hand.
    """
    score = word_similarity(query_key, key)
    score += NUMBER_STEP * number_agreement(numbers_of(query_key), numbers_of(key))
    return min(1.0, max(0.0, score))


def terms_of(*texts: str | None) -> set[str]:
    """What the term index stores of these texts: the trigrams of their matching keys' words.

    Trigrams rather than whole words, so that candidates are found the way the scoring judges
    them, by shared letters: a transliterated stem a letter off ("voisk", "vojsk") still meets.
    """
    grams: set[str] = set()
    for text in texts:
        if text:
            grams.update(*map(_trigrams, match_key(text).split()))
    return grams


# Words repeat across wordings far more than wordings do: a batch's titles share most of theirs.
@lru_cache(maxsize=65_536)
def _trigrams(word: str) -> frozenset[str]:
    padded = f"_{word}_"
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))
