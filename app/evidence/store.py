"""Evidence kept by content address in a folder or an S3-compatible bucket.

Objects are named by the SHA-256 of their bytes (`<prefix>/sha256/ab/cd/<hex>`), so identical
bytes are stored once and an object, once written, never changes. Bodies travel through a
temporary file and in pieces: a 20 MiB body is never held in memory whole.
"""

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

import obstore
from obstore.store import LocalStore, ObjectStore, S3Store

if TYPE_CHECKING:
    from obstore import GetResult

CHUNK_SIZE = 64 * 1024
# S3 wants parts of at least 5 MiB; two in flight bound what one upload holds in memory
# (obstore's default of twelve would hold a whole 20 MiB body and more).
PART_SIZE = 5 * 2**20
PARTS_IN_FLIGHT = 2

_SHA256 = re.compile(r"[0-9a-f]{64}")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class MissingEvidence(LookupError):
    """Nothing is stored under this digest."""


def checked_digest(sha256: str) -> str:
    """The digest itself, or ValueError: it becomes part of an object's name."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise ValueError("sha256 must be 64 lowercase hexadecimal digits")
    return sha256


def key_for(sha256: str) -> str:
    """Where the object with this digest lives, below the store's own prefix."""
    digest = checked_digest(sha256)
    return f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"


def file_digest(path: Path) -> tuple[str, int]:
    """The hex SHA-256 and the size of a file, read in pieces."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class BodyFile:
    """A temporary file that hashes and counts what is written to it.

    Writes are plain blocking writes: they land in the page cache in microseconds, far less
    than a hop to a worker thread per chunk would cost.
    """

    def __init__(self, directory: Path | None = None) -> None:
        descriptor, name = tempfile.mkstemp(prefix="tracer-body-", dir=directory)
        self.path = Path(name)
        self.size = 0
        self._file = os.fdopen(descriptor, "wb")
        self._digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)

    def flush(self) -> None:
        self._file.flush()

    def finish(self) -> str:
        """Close the file; the hex SHA-256 of everything written."""
        self._file.close()
        return self._digest.hexdigest()

    def discard(self) -> None:
        """Close and delete the file."""
        self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None:
            self.discard()


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    # False when those bytes were stored already and nothing was written.
    created: bool


@dataclass(frozen=True)
class StoredObject:
    """An object about to be read: its size is known before the first byte is sent."""

    sha256: str
    size: int
    chunks: AsyncIterator[bytes]


class EvidenceStore:
    """One interface over a folder and an S3-compatible bucket."""

    def __init__(self, store: ObjectStore, *, location: str) -> None:
        self._store = store
        self.location = location

    async def put_file(self, path: Path, *, sha256: str | None = None) -> Stored:
        """Store a finished file under its digest, unless those bytes are already stored.

        The file is hashed again here, so a wrong `sha256` raises ValueError instead of
        filing bytes under a name that is not theirs, forever.
        """
        actual, size = await asyncio.to_thread(file_digest, path)
        if sha256 is not None and checked_digest(sha256) != actual:
            raise ValueError(f"sha256 {sha256} is not the digest of {path.name}")
        if await self.exists(actual):
            return Stored(actual, size, created=False)
        # Two writers racing on the same new digest both write the same bytes, and each
        # backend makes an object appear whole (a rename, a completed multipart upload):
        # no reader ever sees anything but those bytes. A conditional "create" would also
        # stop the second writer, but obstore sends it as one request with the whole body
        # in memory.
        await obstore.put_async(
            self._store,
            key_for(actual),
            path,
            chunk_size=PART_SIZE,
            max_concurrency=PARTS_IN_FLIGHT,
        )
        return Stored(actual, size, created=True)

    async def exists(self, sha256: str) -> bool:
        try:
            await obstore.head_async(self._store, key_for(sha256))
        except FileNotFoundError:
            return False
        return True

    async def size(self, sha256: str) -> int:
        """The object's size in bytes; MissingEvidence when there is none."""
        try:
            meta = await obstore.head_async(self._store, key_for(sha256))
        except FileNotFoundError as exc:
            raise MissingEvidence(sha256) from exc
        return meta["size"]

    async def open(self, sha256: str) -> StoredObject:
        """Start reading an object; MissingEvidence before any byte when there is none."""
        try:
            result = await obstore.get_async(self._store, key_for(sha256))
        except FileNotFoundError as exc:
            raise MissingEvidence(sha256) from exc
        return StoredObject(sha256, result.meta["size"], _chunks(result))

    async def stream(self, sha256: str) -> AsyncIterator[bytes]:
        """The object's bytes in pieces; MissingEvidence at the first piece when there is none."""
        stored = await self.open(sha256)
        async for chunk in stored.chunks:
            yield chunk


async def _chunks(result: "GetResult") -> AsyncIterator[bytes]:
    # obstore gathers 10 MiB per piece unless told otherwise.
    async for chunk in result.stream(min_chunk_size=CHUNK_SIZE):
        yield bytes(chunk)


def open_store(location: str = "./evidence") -> EvidenceStore:
    """The store at `location`: a folder (created if missing) or `s3://bucket/prefix`.

    For S3, credentials, region and endpoint come from the usual variables (AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION or AWS_DEFAULT_REGION, and
    AWS_ENDPOINT_URL for an S3-compatible server), which obstore reads itself.
    """
    if location.startswith("s3://"):
        bucket = location.removeprefix("s3://").split("/", 1)[0]
        if not bucket:
            raise ValueError("evidence_store: s3:// needs a bucket, as in s3://bucket/prefix")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        # obstore refuses plain HTTP unless asked: a local MinIO or a test server speaks it.
        plain_http = bool(endpoint) and str(endpoint).startswith("http://")
        store: ObjectStore = S3Store.from_url(
            location, client_options={"allow_http": True} if plain_http else None
        )
        return EvidenceStore(store, location=location)
    if _URL_SCHEME.match(location):
        raise ValueError("evidence_store must be a folder or s3://bucket/prefix")
    folder = Path(location).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return EvidenceStore(LocalStore(prefix=folder), location=str(folder))
