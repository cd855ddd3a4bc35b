"""The normalised form of a statement, which decides when two claims are the same claim."""

import hashlib
import unicodedata
from functools import lru_cache


# A batch names the same few claims many times over, each checked by the schema and again when
# the claim is looked up or created.
@lru_cache(maxsize=8192)
def normalize_statement(text: str) -> str:
    """NFKC, case-folded, punctuation stripped, whitespace collapsed (the contract's rule)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    without_punctuation = "".join(
        ch for ch in folded if not unicodedata.category(ch).startswith("P")
    )
    return " ".join(without_punctuation.split())


def has_content(text: str) -> bool:
    """Whether anything visible is left once punctuation, spaces and format characters go.

    A statement of zero-width spaces alone would otherwise be recorded as a claim nobody can
    read, and every other such statement would collide with it.
    """
    return any(unicodedata.category(ch)[0] in "LNS" for ch in normalize_statement(text))


def fingerprint(normalized: str) -> str:
    return hashlib.sha256(normalized.encode()).hexdigest()
