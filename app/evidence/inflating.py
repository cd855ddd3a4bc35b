"""Content codings undone with a cap on each step's output, so a gzip bomb cannot inflate.

httpx's own decoders inflate each network read whole: 64 KiB of a gzip bomb would become
64 MiB in memory before any size limit could look at it. Here every step yields at most
PIECE_SIZE bytes, and the caller's limit stops the stream between steps.
"""

import zlib
from collections.abc import AsyncIterator, Iterable, Iterator

import httpx

# Only what is decoded here is asked for; brotli and zstd are not.
ACCEPT_ENCODING = "gzip, deflate"
PIECE_SIZE = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


class UndecodableBody(Exception):
    """The body's content coding is unknown or broken; the message says which."""


class _Inflater:
    """One content coding undone, a piece at a time."""

    def __init__(self, coding: str) -> None:
        self._gzip = coding in ("gzip", "x-gzip")
        self._started = False
        self._ended = False
        # The start of what may be a next gzip member, cut off by the end of a network read.
        self._pending = b""
        self._zlib = self._fresh()

    def _fresh(self) -> "zlib._Decompress":
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        data, self._pending = self._pending + data, b""
        while not self._ended:
            if self._zlib.eof and not self._next_member(data):
                return
            try:
                out = self._zlib.decompress(data, PIECE_SIZE)
            except zlib.error as exc:
                if not self._started and not self._gzip:
                    # Some servers send "deflate" as a bare stream, without zlib's wrapper.
                    self._zlib, self._started = zlib.decompressobj(-zlib.MAX_WBITS), True
                    continue
                raise UndecodableBody("malformed response") from exc
            self._started = True
            if out:
                yield out
            if self._zlib.eof:
                data = self._zlib.unused_data
                continue
            data = self._zlib.unconsumed_tail
            # A full piece may leave output waiting inside zlib even with no input left.
            if not data and len(out) < PIECE_SIZE:
                return

    def _next_member(self, data: bytes) -> bool:
        """After the end of a stream: whether `data` starts another gzip member. Anything
        else after the end is junk, ignored as browsers ignore it."""
        if self._gzip and len(data) < 2 and _GZIP_MAGIC.startswith(data):
            self._pending = data
            return False
        if not (self._gzip and data.startswith(_GZIP_MAGIC)):
            self._ended = True
            return False
        self._zlib = self._fresh()
        return True


def _through(inflater: _Inflater, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from inflater.feed(piece)


async def decoded(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body with its content codings undone, in pieces of bounded size."""
    codings = [c.strip().lower() for c in response.headers.get("content-encoding", "").split(",")]
    inflaters: list[_Inflater] = []
    for coding in reversed([c for c in codings if c and c != "identity"]):
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise UndecodableBody("unsupported content encoding")
        inflaters.append(_Inflater(coding))
    async for raw in response.aiter_raw():
        pieces: Iterable[bytes] = (raw,)
        for inflater in inflaters:
            pieces = _through(inflater, pieces)
        for piece in pieces:
            yield piece
