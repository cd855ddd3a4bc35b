"""A web server of the test's own for url-info to read."""

from collections.abc import AsyncIterator

import pytest

from tests.evidence.pages import Pages


@pytest.fixture
async def pages() -> AsyncIterator[Pages]:
    server = Pages()
    await server.start()
    yield server
    await server.stop()
