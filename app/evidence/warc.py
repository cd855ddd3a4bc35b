"""A fetch written as a gzipped WARC 1.1 file: every hop's request and response, as exchanged.

Bodies are archived decoded, as the capture's `sha256` is of the decoded body and as archivers
that store decoded payloads do: a response's `Content-Encoding` and `Transfer-Encoding` are
removed (kept as `X-Archive-Orig-Content-Encoding` and `X-Archive-Orig-Transfer-Encoding`) and
its `Content-Length` is the archived body's (the original kept as
`X-Archive-Orig-Content-Length`), so any WARC reader replays the record without decoding it
twice. Every other header is kept in its order and spelling; warcio percent-encodes the
rare non-ASCII header value (RFC 8187). A body not kept whole (cut at the size limit or the
deadline, or a redirect's body past its cap) is marked with `WARC-Truncated`.

Digests are SHA-256, like every other hash of evidence, written base32 as WARC readers expect.
"""

import base64
import functools
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import metadata
from io import BytesIO
from typing import IO, Any, Protocol

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from app.evidence.fetching import FetchResult, Hop

_ORIGINAL = ("content-encoding", "transfer-encoding", "content-length")


class Sink(Protocol):
    """Where a WARC file goes: an open binary file, or a BodyFile that hashes it on the way."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> object: ...


class _Writer(WARCWriter):  # type: ignore[misc]  # warcio is untyped
    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def _warc_date(moment: datetime) -> str:
    return str(datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True))


def _sha256_label(hex_digest: str) -> str:
    return "sha256:" + base64.b32encode(bytes.fromhex(hex_digest)).decode("ascii")


def archived_headers(headers: list[tuple[str, str]], body_size: int) -> list[tuple[str, str]]:
    """Response headers for a body archived decoded (see the module's note)."""
    kept = [(name, value) for name, value in headers if name.lower() not in _ORIGINAL]
    originals = [
        (f"X-Archive-Orig-{name}", value) for name, value in headers if name.lower() in _ORIGINAL
    ]
    return [*kept, *originals, ("Content-Length", str(body_size))]


@functools.cache
def _software() -> str:
    try:
        tracer = metadata.version("tracer")
    except metadata.PackageNotFoundError:
        tracer = "dev"
    return f"Tracer/{tracer} warcio/{metadata.version('warcio')}"


def write_warc(result: FetchResult, out: Sink) -> None:
    """Write `result` to `out` as a gzipped WARC 1.1 file: a warcinfo record, then a request
    and (when one came) a response record for every hop. The final body is streamed from its
    file, never read into memory whole. Blocking (files and gzip): from async code, run it in
    a thread."""
    writer = _Writer(out, gzip=True, warc_version="1.1")
    user_agent = next(
        (v for hop in result.hops for k, v in hop.request_headers if k.lower() == "user-agent"),
        None,
    )
    info = {
        "software": _software(),
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "http-header-user-agent": user_agent,
        "description": f"Evidence fetched from {result.requested_url}",
    }
    warcinfo = writer.create_warcinfo_record(None, info)
    warcinfo.rec_headers.replace_header("WARC-Date", _warc_date(result.started_at))
    writer.write_record(warcinfo)
    info_id = warcinfo.rec_headers.get_header("WARC-Record-ID")
    for hop in result.hops:
        _write_hop(writer, hop, info_id, result.sha256)


def _write_hop(writer: _Writer, hop: Hop, info_id: str, body_sha256: str | None) -> None:
    request_id, response_id = (f"<urn:uuid:{uuid.uuid4()}>" for _ in range(2))
    common = {"WARC-Date": _warc_date(hop.sent_at), "WARC-Warcinfo-ID": info_id}
    if hop.ip_address:
        common["WARC-IP-Address"] = hop.ip_address
    answered = hop.status_line is not None
    request = writer.create_warc_record(
        hop.url,
        "request",
        payload=BytesIO(),
        length=0,
        http_headers=StatusAndHeaders(hop.request_line, hop.request_headers, is_http_request=True),
        warc_headers_dict={
            "WARC-Record-ID": request_id,
            **common,
            **({"WARC-Concurrent-To": response_id} if answered else {}),
        },
    )
    writer.write_record(request)
    if hop.status_line is None:
        return
    protocol, _, status = hop.status_line.partition(" ")
    headers: dict[str, Any] = {
        "WARC-Record-ID": response_id,
        **common,
        "WARC-Concurrent-To": request_id,
    }
    if hop.truncated:
        headers["WARC-Truncated"] = hop.truncated
    with ExitStack() as stack:
        if hop.body_file is not None:
            payload: IO[bytes] = stack.enter_context(hop.body_file.open("rb"))
            size = hop.body_file.stat().st_size
            if body_sha256 is not None:
                # Known already: warcio then reads the file once less.
                headers["WARC-Payload-Digest"] = _sha256_label(body_sha256)
        else:
            payload, size = BytesIO(hop.body), len(hop.body)
        response = writer.create_warc_record(
            hop.url,
            "response",
            payload=payload,
            length=size,
            http_headers=StatusAndHeaders(
                status, archived_headers(hop.response_headers, size), protocol=protocol
            ),
            warc_headers_dict=headers,
        )
        writer.write_record(response)
