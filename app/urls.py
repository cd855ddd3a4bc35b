"""Web URLs: the checks a user-supplied URL passes, its canonical form, and outlet domain entries.

The canonical form follows the contract's "URLs and evidence": https, IDNA host in lower case
without `www.`, `m.` or `amp.`, no default port, no fragment, no tracking parameters, the other
query parameters sorted, no trailing `/amp` segment, Telegram's `t.me/s/` preview written as the
post. Parsing is WHATWG's (as browsers and the stored `url` do); the query is w3lib's canonical one.
"""

import ipaddress
import re
import string
from urllib.parse import unquote_plus, urlsplit

import pydantic_core
import tldextract
from w3lib.url import canonicalize_url

MAX_URL_LENGTH = 2048
MAX_HOST_LENGTH = 253
# Deeper path entries never name an outlet; the cap keeps a lookup to one short IN (...) list.
MAX_PATH_DEPTH = 8

TRACKING_PARAMETERS = frozenset(
    {"fbclid", "gclid", "yclid", "mc_cid", "mc_eid", "igshid", "ref_src", "amp"}
)
TRACKING_PREFIXES = ("utm_",)
HOST_PREFIXES = ("www.", "m.", "amp.")

# The bundled Public Suffix List only: a server may be offline, and answers must not change
# under it between two runs. Private suffixes (github.io, blogspot.com) count as public here,
# because the names under them belong to unrelated people.
_SUFFIXES = tldextract.TLDExtract(
    cache_dir=None, suffix_list_urls=(), include_psl_private_domains=True
)

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# A scheme in a domain entry is followed by something other than a port number.
_ENTRY_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(?!\d)")
_WITH_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OUTER_SPACE = "".join(chr(c) for c in range(0x21))
# t.me/s/<channel>[/<n>] is the web preview of t.me/<channel>[/<n>].
_TELEGRAM_PREVIEW = re.compile(r"/s(/[^/]+.*)")
# After another segment only: t.me/amp is a channel, not an AMP copy of the home page. The
# slash after it stays: `/story/amp/` is the AMP copy of `/story/`, as WordPress writes them.
_TRAILING_AMP = re.compile(r"(?<=[^/])(?:/amp)+(/?)$")

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# Characters that mean the same written or escaped in a path: RFC 3986's unreserved ones and the
# sub-delimiters servers read alike either way (";" is left alone: it starts matrix parameters).
_PATH_LITERAL = frozenset(string.ascii_letters + string.digits + "-._~!$&'()*+,=:@")

# The WHATWG parser's reasons (Rust url crate) in words a fact-checker can act on.
_PARSE_REASONS = {
    "empty host": "must name a host, as in https://example.com/",
    "invalid port number": "has an invalid port: a port is a number from 0 to 65535 in digits 0-9",
    "invalid international domain name": "has a host name that is not valid",
    "invalid domain character": "has a host name that is not valid",
    "invalid IPv4 address": "has an IPv4 address that is not valid",
    "invalid IPv6 address": "has an IPv6 address that is not valid",
    "relative URL without a base": "must be a whole URL starting with https:// or http://",
}


class UrlRefused(ValueError):
    """A URL or domain entry Tracer will not store; the message says why, for a person."""


def check_web_url(url: str) -> str:
    """The URL as parsed by a browser (IDNA host, default port dropped), or UrlRefused."""
    text = url.strip(_OUTER_SPACE)
    if not text:
        raise UrlRefused("must not be empty")
    if len(text) > MAX_URL_LENGTH:
        raise UrlRefused(f"must be at most {MAX_URL_LENGTH:,} characters long")
    if _CONTROL.search(text):
        raise UrlRefused("must not contain control characters (tabs, line breaks, NUL)")
    _require_http(_SCHEME.match(text))
    try:
        parsed = pydantic_core.Url(text)
    except pydantic_core.ValidationError as exc:
        error = exc.errors()[0]
        reason = str(error.get("ctx", {}).get("error", error["msg"]))
        raise UrlRefused(_PARSE_REASONS.get(reason, f"is not a valid URL ({reason})")) from None
    if parsed.username or parsed.password:
        raise UrlRefused("must not contain a user name or password")
    host = parsed.host or ""
    if not host:
        raise UrlRefused(_PARSE_REASONS["empty host"])
    if len(host) > MAX_HOST_LENGTH:
        raise UrlRefused(f"has a host name longer than {MAX_HOST_LENGTH} characters")
    normal = str(parsed)
    if len(normal) > MAX_URL_LENGTH:
        raise UrlRefused(f"must be at most {MAX_URL_LENGTH:,} characters long once encoded")
    return normal


def canonical_url(url: str) -> str:
    """The one form of a URL that every equivalent form shares; refuses what check_web_url does."""
    parts = urlsplit(check_web_url(url))
    host, port = _split_netloc(parts.netloc)
    host = _canonical_host(host)
    # http's default port was dropped by the parser; https's is dropped as the scheme changes.
    netloc = host if port in (None, 443) else f"{host}:{port}"
    # w3lib for the query (raw bytes of any charset kept, pairs sorted), and only when there
    # is one: it is most of the cost of a URL; the path by escape, so that a prefix of a
    # canonical path is canonical too (see domain_candidates).
    query = (
        urlsplit(canonicalize_url(f"https://{netloc}/?{parts.query}")).query if parts.query else ""
    )
    path = _TRAILING_AMP.sub(r"\1", _ESCAPE.sub(_normal_escape, parts.path)) or "/"
    while host == "t.me" and (preview := _TELEGRAM_PREVIEW.fullmatch(path)):
        path = preview[1]
    kept = [pair for pair in query.split("&") if pair and not _is_tracking(pair)]
    return f"https://{netloc}{path}" + (f"?{'&'.join(kept)}" if kept else "")


def canonical_domain_entry(entry: str) -> str:
    """An outlet's address (a host, or a host and path prefix) in canonical form, or UrlRefused.

    `https://www.t.me/kremlinlaundress/` and `t.me/kremlinlaundress` both give
    `t.me/kremlinlaundress`; a port is kept only when it is not 443 (nor 80 with `http://`).
    """
    text = entry.strip(_OUTER_SPACE)
    if not text:
        raise UrlRefused("must not be empty")
    if "?" in text or "#" in text:
        raise UrlRefused("must be a host or a host with a path, without a query or fragment")
    if "@" in _WITH_SCHEME.sub("", text).split("/", 1)[0]:
        raise UrlRefused("must not contain a user name or password")
    scheme = _ENTRY_SCHEME.match(text)
    if scheme is not None:
        _require_http(scheme)
    parts = urlsplit(canonical_url(text if scheme else f"https://{text}"))
    host, _ = _split_netloc(parts.netloc)
    if not _is_ip(host) and _is_public_suffix(host):
        raise UrlRefused(
            f"names '{host}', a suffix shared by unrelated sites; name a domain under it"
        )
    path = parts.path.rstrip("/")
    if path.count("/") > MAX_PATH_DEPTH:
        raise UrlRefused(f"must have at most {MAX_PATH_DEPTH} path segments")
    return parts.netloc + path


def domain_candidates(url: str) -> list[str]:
    """Every domain entry that could match the URL, longest (most specific) first.

    The order: the URL's host with its first N path segments for N from the path's depth (at
    most MAX_PATH_DEPTH) down to 1, then the bare host, then each parent host (same port) up to
    the registrable domain, never a public suffix; IP hosts have no parents. Prefixes end on
    segment boundaries, so `t.me/kremlinlaundress` is a candidate of `t.me/kremlinlaundress/1200`
    and not of `t.me/kremlinlaundress2/1`. A path entry covers its own host only; a bare host
    entry covers its subdomains too. Every candidate is shorter than the one before, so the first
    one found among stored entries is the longest match (see best_entry).
    """
    parts = urlsplit(canonical_url(url))
    segments = parts.path.split("/")[1 : MAX_PATH_DEPTH + 1]
    found = [
        f"{parts.netloc}/{prefix}"
        for depth in range(len(segments), 0, -1)
        if (prefix := "/".join(segments[:depth])) and not prefix.endswith("/")
    ]
    found.append(parts.netloc)
    host, port = _split_netloc(parts.netloc)
    suffix = f":{port}" if port is not None else ""
    found.extend(parent + suffix for parent in _parent_hosts(host))
    return found


def best_entry(stored: set[str] | frozenset[str], candidates: list[str]) -> str | None:
    """The longest of the candidates (as domain_candidates orders them) that is stored."""
    return next((candidate for candidate in candidates if candidate in stored), None)


def covers(entry: str, url: str) -> bool:
    """Whether a domain entry matches the URL on a segment boundary."""
    return canonical_domain_entry(entry) in domain_candidates(url)


def _require_http(scheme: re.Match[str] | None) -> None:
    if scheme is None:
        raise UrlRefused(_PARSE_REASONS["relative URL without a base"])
    if scheme[1].lower() not in ("http", "https"):
        raise UrlRefused(f"must be an http or https URL, not '{scheme[1].lower()}:'")


def _split_netloc(netloc: str) -> tuple[str, int | None]:
    host, colon, port = netloc.rpartition(":")
    if not colon or host.endswith(":") or "]" in port:
        return netloc, None
    return host, int(port)


def _is_ip(host: str) -> bool:
    bare = host.strip("[]")
    # Most hosts are names, which the parser refuses by exception twice over: an IPv6 address
    # has a colon, an IPv4 address nothing but digits and dots.
    if ":" not in bare and not bare.replace(".", "").isdigit():
        return False
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return False
    return True


def _canonical_host(host: str) -> str:
    host = host.rstrip(".")
    if _is_ip(host):
        return host
    stripped = True
    while stripped:
        stripped = False
        for prefix in HOST_PREFIXES:
            # Only a subdomain label goes: www.gov.uk, amp.dev and m.me are sites of their own.
            if host.startswith(prefix) and _SUFFIXES(host).subdomain:
                host, stripped = host.removeprefix(prefix), True
    return host


def _is_public_suffix(host: str) -> bool:
    parts = _SUFFIXES(host)
    return bool(parts.suffix) and not parts.top_domain_under_public_suffix


def _parent_hosts(host: str) -> list[str]:
    if _is_ip(host) or _is_public_suffix(host):
        return []
    # An unknown suffix (localhost, intranet names): the last label stands for the registrable one.
    floor = _SUFFIXES(host).top_domain_under_public_suffix or host.rsplit(".", 1)[-1]
    labels = host.split(".")
    parents = (".".join(labels[index:]) for index in range(1, len(labels)))
    # Parents are label-wise suffixes of the host, so length alone tells which reach the floor.
    return [parent for parent in parents if len(parent) >= len(floor)]


def _normal_escape(escape: re.Match[str]) -> str:
    character = chr(int(escape[1], 16))
    return character if character in _PATH_LITERAL else escape[0].upper()


def _is_tracking(pair: str) -> bool:
    name = unquote_plus(pair.partition("=")[0]).lower()
    return name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES)
