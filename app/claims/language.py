"""Which language a text is in, by py3langid (its model ships inside the package)."""

import threading
from functools import lru_cache

from py3langid import langid

# Too little text to tell: these texts count as one group of their own.
UNKNOWN = "und"
_MIN_LETTERS = 3
# The first few sentences tell the language as well as the whole text.
_ENOUGH = 500
_lock = threading.Lock()


def detect(text: str) -> str:
    """The ISO 639-1 code of the text's language, or "und" when there is too little to tell."""
    return _detect(text[:_ENOUGH])


@lru_cache(maxsize=20_000)
def _detect(text: str) -> str:
    if sum(ch.isalpha() for ch in text) < _MIN_LETTERS:
        return UNKNOWN
    # Its identifier is built on first use; the lock keeps two threads from building it at once.
    with _lock:
        language, _ = langid.classify(text)
    return str(language)
