"""Fetching one URL for evidence, within limits a hostile server cannot stretch.

Every hop goes through the outbound address guard (`app.netguard`): redirects are followed
here, one at a time, each target checked before it is called and the connection pinned to the
address checked. The whole fetch has one time budget, the body one size limit counted after
content decoding, and a host gets at most `per_host` requests at once from this process.
Trouble on the network is reported in `FetchResult.problem`, never raised.
"""

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from app import netguard
from app.config import Settings
from app.evidence.inflating import ACCEPT_ENCODING, UndecodableBody, decoded
from app.evidence.store import BodyFile

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# A redirect's own body is kept for the record only; past this it is cut off.
REDIRECT_BODY_BYTES = 64 * 1024
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


# A DNS name (underscores occur in real ones), or an IPv4 or IPv6 literal.
_HOST = re.compile(r"[A-Za-z0-9_.-]+|[0-9A-Fa-f:.]+")


class _Problem(Exception):
    """Ends a fetch; its message is the result's `problem`."""


@dataclass
class Hop:
    """One request and its answer, as sent and as received."""

    url: str
    sent_at: datetime
    request_line: str
    request_headers: list[tuple[str, str]]
    # None when no answer came (a timeout, a dropped connection).
    status_line: str | None = None
    http_status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    # A redirect's body, decoded, at most REDIRECT_BODY_BYTES.
    body: bytes = b""
    # The final answer's body, decoded; it is the result's `body_path`.
    body_file: Path | None = None
    # Why the body was not kept whole, in WARC-Truncated's words: "length", "time",
    # "disconnect" or "unspecified".
    truncated: str | None = None
    ip_address: str | None = None


@dataclass
class FetchResult:
    requested_url: str
    final_url: str
    started_at: datetime
    hops: list[Hop] = field(default_factory=list)
    http_status: int | None = None
    content_type: str | None = None
    size: int = 0
    # The SHA-256 of the body after transfer and content decoding.
    sha256: str | None = None
    # A temporary file the caller stores and then deletes (`discard`). Kept for any answer
    # received whole, a 404 page included; None when the body could not be read whole.
    body_path: Path | None = None
    problem: str | None = None

    def discard(self) -> None:
        """Delete the body's temporary file."""
        if self.body_path is not None:
            self.body_path.unlink(missing_ok=True)


class HostSlots:
    """At most `per_host` holders at once per host. A host's entry lives only while someone
    holds or awaits it, so the table never outgrows the fetches in flight."""

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    def __len__(self) -> int:
        return len(self._slots)

    @asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        semaphore, users = self._slots.setdefault(host, (asyncio.Semaphore(self._per_host), [0]))
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._slots[host]


class _Budget:
    """What is left of a fetch's time; waiting for a host's slot is not spent from it."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    @asynccontextmanager
    async def spend(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(max(self.left, 0.0)):
                yield
        finally:
            self.left -= loop.time() - started


def _truncation(exc: BaseException) -> str:
    if isinstance(exc, _Problem) and str(exc) == "too large":
        return "length"
    # The deadline arrives as a cancellation inside the hop.
    if isinstance(exc, asyncio.CancelledError | httpx.TimeoutException):
        return "time"
    if isinstance(exc, httpx.TransportError):
        return "disconnect"
    return "unspecified"


def _texts(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    # Latin-1 maps every byte to one character, so headers survive the round trip exactly.
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]


def _host(url: httpx.URL) -> str:
    """The host as connected to: IDNA (punycode) form, IPv6 without brackets."""
    return url.raw_host.decode("ascii")


def _checked(url: str | httpx.URL, *, redirected: bool) -> httpx.URL:
    """The URL parsed, or the problem that keeps it from being requested."""
    invalid = "invalid redirect" if redirected else "invalid URL"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise _Problem(invalid) from exc
    if parsed.scheme not in ("http", "https"):
        raise _Problem("redirect to a non-http URL" if redirected else "not an http URL")
    try:
        # Decoded from IDNA only when asked for: a malformed A-label fails here, with a
        # UnicodeError.
        host = parsed.host
    except ValueError as exc:
        raise _Problem(invalid) from exc
    # httpx percent-encodes what a host may not hold instead of refusing it.
    if not host or not _HOST.fullmatch(_host(parsed)) or not 0 < (parsed.port or 80) < 65536:
        raise _Problem(invalid)
    if parsed.userinfo:
        raise _Problem("URL with credentials")
    return parsed


class Fetcher:
    """Fetches pages for evidence. One per process: its limits and connections are shared."""

    def __init__(
        self,
        *,
        user_agent: str,
        allow_private: bool = False,
        timeout_seconds: float = 15.0,
        max_bytes: int = 20 * 2**20,
        max_redirects: int = 5,
        per_host: int = 2,
        temp_dir: Path | None = None,
    ) -> None:
        if timeout_seconds <= 0 or max_bytes < 0 or max_redirects < 0 or per_host < 1:
            raise ValueError("fetch limits must be positive (per_host at least 1)")
        self.user_agent = user_agent
        self.allow_private = allow_private
        self.timeout_seconds = timeout_seconds
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.temp_dir = temp_dir
        self.slots = HostSlots(per_host)
        # Requests go to the transport directly: httpx's client would keep cookies across
        # fetches and parse a redirect's Location itself, raising on a malformed one.
        self._transport = netguard.PinnedTransport(
            allow_private=allow_private,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=0),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            user_agent=settings.fetch_user_agent,
            allow_private=settings.fetch_allow_private,
            timeout_seconds=settings.fetch_timeout_seconds,
            max_bytes=settings.fetch_max_bytes,
            max_redirects=settings.fetch_max_redirects,
            per_host=settings.fetch_per_host,
        )

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def fetch(self, url: str) -> FetchResult:
        """Fetch `url`, following redirects; why it failed is in `problem`, never raised."""
        result = FetchResult(requested_url=url, final_url=url, started_at=datetime.now(UTC))
        try:
            await self._follow(url, result)
        except (_Problem, UndecodableBody) as exc:
            result.problem = str(exc)
        except (TimeoutError, httpx.TimeoutException):
            result.problem = "timeout"
        # A server that hangs up early and one that speaks no HTTP end alike (httpx reports
        # both as protocol errors), and the first is by far the more common.
        except httpx.TransportError as exc:
            log.info("fetch of %s: %s", url, exc)
            result.problem = "connection failed"
        return result

    async def _follow(self, url: str, result: FetchResult) -> None:
        budget = _Budget(self.timeout_seconds)
        cookies = httpx.Cookies()
        target = _checked(url, redirected=False)
        for redirects in range(self.max_redirects + 1):
            async with self.slots.hold(_host(target)), budget.spend():
                location = await self._hop(target, cookies, result)
            if location is None:
                return
            if redirects == self.max_redirects:
                raise _Problem("too many redirects")
            target = _checked(location, redirected=True)

    async def _guard(self, url: httpx.URL) -> None:
        """Refuse a URL whose host resolves to an address that is not public.

        netguard's own parts, not `check_url`, so that a name that does not resolve is told
        apart from a refused address. The transport checks again as it connects.
        """
        if self.allow_private:
            return
        try:
            port = url.port or (443 if url.scheme == "https" else 80)
            addresses = await netguard.resolve(_host(url), port)
        except netguard.UnsafeUrl as exc:
            raise _Problem("host not found") from exc
        if not addresses:
            raise _Problem("host not found")
        if any(netguard.is_forbidden(address) for address in addresses):
            raise _Problem("refused address")

    async def _hop(
        self, url: httpx.URL, cookies: httpx.Cookies, result: FetchResult
    ) -> httpx.URL | None:
        """One request; the next URL when the answer is a redirect."""
        await self._guard(url)
        request = httpx.Request(
            "GET",
            url,
            headers={
                "user-agent": self.user_agent,
                "accept": ACCEPT,
                "accept-encoding": ACCEPT_ENCODING,
            },
        )
        cookies.set_cookie_header(request)
        seconds = max(self.timeout_seconds, 1.0)
        request.extensions["timeout"] = httpx.Timeout(seconds).as_dict()
        hop = Hop(
            url=str(url),
            sent_at=datetime.now(UTC),
            request_line=f"GET {url.raw_path.decode('ascii')} HTTP/1.1",
            request_headers=_texts(request.headers.raw),
        )
        result.hops.append(hop)
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            self._record_answer(hop, response, result)
            cookies.extract_cookies(response)
            location = (
                response.headers.get("location")
                if response.status_code in REDIRECT_STATUSES
                else None
            )
            try:
                if location is not None:
                    hop.body = await self._read_capped(hop, response)
                else:
                    await self._save_body(hop, response, result)
            except BaseException as exc:
                hop.truncated = _truncation(exc)
                raise
            if location is not None:
                try:
                    return url.join(location)
                except httpx.InvalidURL as exc:
                    raise _Problem("invalid redirect") from exc
            if not 200 <= response.status_code < 300:
                result.problem = f"HTTP {response.status_code}"
            return None
        finally:
            await response.aclose()

    def _record_answer(self, hop: Hop, response: httpx.Response, result: FetchResult) -> None:
        hop.http_status = response.status_code
        hop.status_line = (
            f"{response.http_version} {response.status_code} {response.reason_phrase}".rstrip()
        )
        hop.response_headers = _texts(response.headers.raw)
        stream = response.extensions.get("network_stream")
        if stream is not None:
            address = stream.get_extra_info("server_addr")
            hop.ip_address = str(address[0]) if address else None
        result.final_url = hop.url
        result.http_status = response.status_code
        result.content_type = response.headers.get("content-type")

    async def _read_capped(self, hop: Hop, response: httpx.Response) -> bytes:
        kept = bytearray()
        async for piece in decoded(response):
            # One byte past the cap tells a body cut off from one that just fits.
            kept += piece[: REDIRECT_BODY_BYTES + 1 - len(kept)]
            if len(kept) > REDIRECT_BODY_BYTES:
                hop.truncated = "length"
                break
        return bytes(kept[:REDIRECT_BODY_BYTES])

    async def _save_body(self, hop: Hop, response: httpx.Response, result: FetchResult) -> None:
        declared = response.headers.get("content-length", "")
        encoded = response.headers.get("content-encoding", "identity").lower() != "identity"
        # An honest Content-Length past the limit needs no reading to be refused.
        if not encoded and declared.isdigit() and int(declared) > self.max_bytes:
            raise _Problem("too large")
        with BodyFile(self.temp_dir) as body:
            async for piece in decoded(response):
                if body.size + len(piece) > self.max_bytes:
                    raise _Problem("too large")
                body.write(piece)
            result.sha256 = body.finish()
        result.size = body.size
        result.body_path = hop.body_file = body.path
