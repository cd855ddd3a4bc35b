"""The normalised form of a statement, which decides when two claims are the same claim."""

import hashlib
import unicodedata


def normalize_statement(text: str) -> str:
    """NFKC, case-folded, punctuation stripped, whitespace collapsed (the contract's rule)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    without_punctuation = "".join(
        ch for ch in folded if not unicodedata.category(ch).startswith("P")
    )
    return " ".join(without_punctuation.split())


def fingerprint(normalized: str) -> str:
    return hashlib.sha256(normalized.encode()).hexdigest()
