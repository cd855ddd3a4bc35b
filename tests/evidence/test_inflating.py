"""Content decoding with bounded steps, fed as a network would feed it: in arbitrary pieces."""

import gzip
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from app.evidence.inflating import PIECE_SIZE, UndecodableBody, decoded


def response(coding: str, body: bytes, *, piece: int) -> httpx.Response:
    async def reads() -> AsyncIterator[bytes]:
        for start in range(0, len(body), piece):
            yield body[start : start + piece]

    return httpx.Response(200, headers={"content-encoding": coding}, content=reads())


async def pieces_of(response: httpx.Response) -> list[bytes]:
    return [piece async for piece in decoded(response)]


@pytest.mark.parametrize("piece", [1, 7, 4096])
async def test_gzip_members_split_anywhere_are_decoded_whole(piece: int) -> None:
    first, second = b"first member " * 500, b"second member " * 500
    body = gzip.compress(first) + gzip.compress(second)

    pieces = await pieces_of(response("gzip", body, piece=piece))

    assert b"".join(pieces) == first + second


async def test_junk_after_the_end_is_ignored() -> None:
    body = gzip.compress(b"the page") + b"\0\0junk"

    assert b"".join(await pieces_of(response("gzip", body, piece=3))) == b"the page"


async def test_no_step_yields_more_than_a_piece() -> None:
    body = zlib.compress(bytes(8 * 2**20), 9)

    pieces = await pieces_of(response("deflate", body, piece=len(body)))

    assert sum(map(len, pieces)) == 8 * 2**20
    assert max(map(len, pieces)) <= PIECE_SIZE


@pytest.mark.parametrize(
    ("coding", "body", "message"),
    [
        ("gzip", b"\x1f\x8b\x08broken", "malformed response"),
        ("deflate", b"not deflate at all", "malformed response"),
        ("br", b"\x0b\x02\x80hi\x03", "unsupported content encoding"),
        ("gzip, zstd", b"", "unsupported content encoding"),
    ],
)
async def test_an_unknown_or_broken_coding_is_named(coding: str, body: bytes, message: str) -> None:
    with pytest.raises(UndecodableBody, match=message):
        await pieces_of(response(coding, body, piece=64))


async def test_identity_is_passed_through() -> None:
    assert await pieces_of(response("identity", b"plain", piece=2)) == [b"pl", b"ai", b"n"]
