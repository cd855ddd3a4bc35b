"""The processes a capture's CPU work runs in: reading a page's text and writing its WARC file."""

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from multiprocessing.connection import wait
from pathlib import Path

from app.evidence.fetching import FetchResult
from app.evidence.reading import prepare_reading, read_page
from app.evidence.store import BodyFile
from app.evidence.warc import write_warc

log = logging.getLogger(__name__)

# A page's text is read from its first megabyte only: an article's text comes early, and
# reading 4 MiB of markup takes over 100 MB at its peak against 26 MB for one (measured with
# bench/captures.py, twenty 20 MiB bodies captured at once).
READ_BYTES = 2**20

# Reading text and writing the gzipped WARC file are a capture's CPU work and its largest
# allocations: they run in processes of their own, two at a time (the cores of a small server),
# so that they neither hold the API's interpreter lock while requests wait nor leave their peak
# memory in the serving process.
READERS = 2
_readers: ProcessPoolExecutor | None = None


def _reader() -> ProcessPoolExecutor:
    global _readers
    if _readers is None:
        _readers = ProcessPoolExecutor(
            max_workers=READERS, mp_context=get_context("spawn"), initializer=_start_reader
        )
    return _readers


def _start_reader() -> None:
    prepare_reading()
    # A reader waits for work on a queue whose writing end it holds itself: were the process
    # that started it killed, it would wait for ever, holding that process's output open.
    parent = multiprocessing.parent_process()
    if parent is not None:
        sentinel = parent.sentinel
        threading.Thread(
            target=lambda: (wait([sentinel]), os._exit(0)), name="parent-watch", daemon=True
        ).start()


async def stop_readers() -> None:
    """Stop the reading processes, once what they are reading is read."""
    global _readers
    readers, _readers = _readers, None
    if readers is not None:
        await asyncio.to_thread(readers.shutdown, wait=True, cancel_futures=True)


@contextlib.asynccontextmanager
async def reading_processes() -> AsyncIterator[None]:
    """The reading processes for as long as the block runs: started at once in the background
    (the process serves meanwhile, and the first captures wait for them less), stopped at its
    end, once what they are reading is read."""
    starting = asyncio.create_task(start_readers())
    try:
        yield
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await stop_readers()


async def start_readers() -> None:
    """Start the reading processes and load their models now: a second or two each, which the
    first captures of a worker would otherwise wait for."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(BrokenProcessPool):
        await asyncio.gather(
            *(loop.run_in_executor(_reader(), time.sleep, 0.1) for _ in range(READERS))
        )


def _read(path: Path, url: str, content_type: str | None) -> tuple[str | None, str | None]:
    with path.open("rb") as file:
        head = file.read(READ_BYTES)
    page = read_page(head, url=url, content_type=content_type)
    return page.title, page.text


def _warc_file(result: FetchResult, directory: Path | None) -> tuple[Path, str]:
    with BodyFile(directory) as warc:
        write_warc(result, warc)
        return warc.path, warc.finish()


async def warc_file(result: FetchResult, directory: Path | None) -> tuple[Path, str]:
    """The fetch written as a WARC file in `directory`: its path (the caller deletes it) and
    its SHA-256."""
    global _readers
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_reader(), _warc_file, result, directory)
    except BrokenProcessPool:
        log.warning("the WARC writer stopped on %s; writing it here", result.requested_url)
        _readers = None
        return await asyncio.to_thread(_warc_file, result, directory)


async def read_body(
    path: Path, *, url: str, content_type: str | None
) -> tuple[str | None, str | None]:
    """(title, main text) of a body, read from its first megabyte; nothing when the reading
    process died on it (the body is kept all the same)."""
    global _readers
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_reader(), _read, path, url, content_type)
    except BrokenProcessPool:
        log.warning("the page reader stopped while reading %s; a new one is started", url)
        _readers = None
        return None, None
