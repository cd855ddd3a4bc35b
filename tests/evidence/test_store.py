"""The evidence store, on a folder and on a real S3-speaking server, with the same tests."""

import hashlib
import os
import tracemalloc
import uuid
from pathlib import Path

import obstore
import pytest
from obstore.store import LocalStore, ObjectStore, S3Store

from app.evidence.store import (
    BodyFile,
    EvidenceStore,
    MissingEvidence,
    key_for,
    open_store,
)
from tests.evidence.conftest import BUCKET


@pytest.fixture(params=["folder", "s3"])
def location(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    if request.param == "folder":
        return str(tmp_path / "evidence")
    endpoint: str = request.getfixturevalue("s3_endpoint")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    # Every test gets a prefix of its own in the one bucket.
    return f"s3://{BUCKET}/run-{uuid.uuid4().hex}"


@pytest.fixture
def store(location: str) -> EvidenceStore:
    return open_store(location)


def raw_store(location: str) -> ObjectStore:
    """The same place, opened apart from the code under test, to see what it holds."""
    if location.startswith("s3://"):
        return S3Store.from_url(location, client_options={"allow_http": True})
    return LocalStore(prefix=location)


def stored_keys(location: str) -> list[str]:
    return sorted(meta["path"] for batch in obstore.list(raw_store(location)) for meta in batch)


def body_file(directory: Path, data: bytes) -> tuple[Path, str]:
    body = BodyFile(directory)
    body.write(data)
    return body.path, body.finish()


async def read_all(store: EvidenceStore, sha256: str) -> bytes:
    return b"".join([chunk async for chunk in store.stream(sha256)])


async def test_put_then_read_back(store: EvidenceStore, location: str, tmp_path: Path) -> None:
    data = b"<html><body>The claim, as published.</body></html>"
    path, sha256 = body_file(tmp_path, data)
    assert sha256 == hashlib.sha256(data).hexdigest()

    stored = await store.put_file(path, sha256=sha256)

    assert stored.created and stored.sha256 == sha256 and stored.size == len(data)
    assert await store.exists(sha256)
    assert await store.size(sha256) == len(data)
    assert await read_all(store, sha256) == data
    opened = await store.open(sha256)
    assert opened.size == len(data)
    assert b"".join([c async for c in opened.chunks]) == data
    assert stored_keys(location) == [f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"]


async def test_same_bytes_are_stored_once_and_never_rewritten(
    store: EvidenceStore, location: str, tmp_path: Path
) -> None:
    data = os.urandom(4096)
    first, sha256 = body_file(tmp_path, data)
    second, _ = body_file(tmp_path, data)
    await store.put_file(first, sha256=sha256)
    before = await obstore.head_async(raw_store(location), key_for(sha256))

    again = await store.put_file(second)

    assert again.sha256 == sha256 and not again.created
    after = await obstore.head_async(raw_store(location), key_for(sha256))
    assert after["last_modified"] == before["last_modified"]
    assert after["e_tag"] == before["e_tag"]
    assert stored_keys(location) == [key_for(sha256)]
    assert await read_all(store, sha256) == data


async def test_a_digest_that_is_not_the_files_stores_nothing(
    store: EvidenceStore, location: str, tmp_path: Path
) -> None:
    path, _ = body_file(tmp_path, b"what was received")
    wrong = hashlib.sha256(b"something else").hexdigest()

    with pytest.raises(ValueError, match="not the digest"):
        await store.put_file(path, sha256=wrong)

    assert stored_keys(location) == []


async def test_a_missing_object(store: EvidenceStore) -> None:
    sha256 = hashlib.sha256(b"never stored").hexdigest()

    assert not await store.exists(sha256)
    with pytest.raises(MissingEvidence):
        await store.size(sha256)
    with pytest.raises(MissingEvidence):
        await store.open(sha256)
    with pytest.raises(MissingEvidence):
        await read_all(store, sha256)


@pytest.mark.parametrize("digest", ["../../etc/passwd", "AB" * 32, "ab" * 31, ""])
async def test_a_name_that_is_not_a_digest_is_refused(store: EvidenceStore, digest: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        await store.exists(digest)
    with pytest.raises(ValueError, match="sha256"):
        await store.open(digest)


async def test_a_20_mib_body_goes_in_and_out_in_pieces(
    store: EvidenceStore, tmp_path: Path
) -> None:
    size = 20 * 2**20
    body = BodyFile(tmp_path)
    piece = os.urandom(64 * 1024)
    for n in range(size // len(piece)):
        body.write(n.to_bytes(4, "big") + piece[4:])
    sha256 = body.finish()

    tracemalloc.start()
    try:
        stored = await store.put_file(body.path, sha256=sha256)
        received = hashlib.sha256()
        count = 0
        async for chunk in store.stream(sha256):
            received.update(chunk)
            count += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stored.size == size and count == size
    assert received.hexdigest() == sha256
    assert peak < 2 * 2**20, f"peak Python allocation {peak} bytes for a {size}-byte body"


@pytest.mark.parametrize("where", ["gs://bucket/x", "https://example.org/", "s3:///prefix"])
def test_a_location_that_is_neither_a_folder_nor_s3_is_refused(where: str) -> None:
    with pytest.raises(ValueError, match="evidence_store"):
        open_store(where)


def test_a_folder_is_created_when_missing(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "a" / "b"))

    assert (tmp_path / "a" / "b").is_dir()
    assert store.location == str(tmp_path / "a" / "b")
