"""Reading a fetched page: its main text, title, site, date, language and canonical address.

Pure functions over the bytes a fetch received; nothing here touches the network or the disk.
Pages are hostile input: a lying charset, a megabyte of markup or a PDF served as HTML gives a
Page with what could be read, never an exception.
"""

import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import langcodes
import lxml.html
import trafilatura
from lxml import etree
from py3langid import langid
from trafilatura.metadata import examine_meta, extract_meta_json, extract_sitename, extract_title

from app.enums import Precision
from app.evidence.dates import date_in_url, parse_date, published_in
from app.evidence.decoding import decode_body
from app.urls import UrlRefused, canonical_url, check_web_url

log = logging.getLogger("tracer.evidence")

EXCERPT_LENGTH = 300
# Bounds that keep a 20 MiB body to about a second: markup past the first characters, elements
# past the first thousands (after scripts and styles are dropped) are not read for text. An
# article's text comes early; what lies past these bounds is feeds, footers and ballast.
MAX_HTML_CHARS = 4_000_000
MAX_ELEMENTS = 8_000
# Above this many elements the main-text extractor skips its slower second opinions.
THOROUGH_ELEMENTS = 3_000

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Types servers send when they do not know; the bytes decide.
_UNSURE_TYPES = frozenset({"", "text/plain", "application/octet-stream", "binary/octet-stream"})
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<meta", b"<title")
_BINARY_STARTS = (b"%PDF-", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"RIFF")
_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9._:\-]+)", re.I)
_DROPPED_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "object", "embed")
_TELEGRAM_POST = re.compile(r"https://t\.me/([A-Za-z]\w{2,63})/(\d{1,12})")
_langid_lock = threading.Lock()


@dataclass(frozen=True)
class Page:
    """What a page says about itself, as far as it could be read."""

    title: str | None = None
    site_name: str | None = None
    published_at: datetime | None = None
    published_at_precision: Precision | None = None
    language: str | None = None
    excerpt: str | None = None
    canonical_link: str | None = None
    text: str | None = None


def prepare_reading() -> None:
    """Load the language model now rather than at the first page read (a second or two)."""
    with _langid_lock:
        langid.classify("the language model is loaded once per process")


def read_page(
    body: bytes, *, url: str, content_type: str | None, now: datetime | None = None
) -> Page:
    """What can be read from a fetched body; a date in the URL is all a PDF or image gives."""
    clock = now or datetime.now(UTC)
    url_date = date_in_url(url, now=clock)
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    http_charset = _HTTP_CHARSET.search(content_type or "")
    kind = _kind(media_type, body)
    if kind is None:
        return Page(published_at=url_date, published_at_precision=_day(url_date))
    text = decode_body(body, http_charset[1] if http_charset else None)
    if kind == "text":
        plain = text.strip() or None
        return Page(
            published_at=url_date,
            published_at_precision=_day(url_date),
            language=_detected_language(plain),
            excerpt=_excerpt(plain),
            text=plain,
        )
    try:
        tree = lxml.html.document_fromstring(
            text[:MAX_HTML_CHARS].encode("utf-8", "replace"),
            parser=lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True),
        )
    except (etree.ParserError, ValueError):
        return Page(published_at=url_date, published_at_precision=_day(url_date))
    published = published_in(tree, now=clock)
    elements = _prune(tree)
    post = _telegram_post(tree)
    if post is not None:
        return _read_telegram(post, clock)
    if published[0] is None:
        published = url_date, _day(url_date)
    return _read_article(tree, url=url, published=published, elements=elements)


def telegram_embed_url(url: str) -> str | None:
    """The public embed page of a Telegram channel post, whose HTML carries its text and time."""
    try:
        canonical = canonical_url(url)
    except UrlRefused:
        return None
    post = _TELEGRAM_POST.fullmatch(canonical.split("?", 1)[0])
    return f"https://t.me/{post[1]}/{post[2]}?embed=1&mode=tme" if post else None


def text_sha256(text: str | None) -> str | None:
    """Hex SHA-256 of the main text in UTF-8, or None when there is no text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


def _read_article(
    tree: Any, *, url: str, published: tuple[datetime | None, Precision | None], elements: int
) -> Page:
    title, site_name, description = _described(tree)
    text = _main_text(tree, url, thorough=elements <= THOROUGH_ELEMENTS)
    return Page(
        title=title,
        site_name=site_name,
        published_at=published[0],
        published_at_precision=published[1],
        language=_declared_language(tree) or _detected_language(text or description),
        excerpt=_excerpt(_after_title(text, title) or description),
        canonical_link=_canonical_link(tree, url),
        text=text,
    )


def _kind(media_type: str, body: bytes) -> str | None:
    start = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not start or start.startswith(tuple(s.lower() for s in _BINARY_STARTS)):
        return None
    if media_type in _HTML_TYPES or (
        media_type in _UNSURE_TYPES and start.startswith(_HTML_STARTS)
    ):
        return "html"
    if media_type.startswith("text/") and b"\x00" not in start:
        return "text"
    return None


def _described(tree: Any) -> tuple[str | None, str | None, str | None]:
    try:
        meta = extract_meta_json(tree, examine_meta(tree))
        title = meta.title or extract_title(tree)
        site_name = meta.sitename or extract_sitename(tree)
    except Exception:  # a bug in the extractor must not lose the capture it serves
        log.warning("page metadata could not be read", exc_info=True)
        return None, None, None
    return _clean(title), _clean(site_name.lstrip("@") if site_name else None), meta.description


def _main_text(tree: Any, url: str, *, thorough: bool) -> str | None:
    try:
        document = trafilatura.bare_extraction(
            tree, url=url, fast=not thorough, include_comments=False
        )
    except Exception:  # a bug in the extractor must not lose the capture it serves
        log.warning("page text could not be read", exc_info=True)
        return None
    text = getattr(document, "text", None)
    return (text.strip() or None) if isinstance(text, str) else None


def _prune(tree: Any) -> int:
    """Drops what is never text (scripts but JSON-LD, styles, frames), then cuts the tree short."""
    # lxml strips by tag name alone, in C; JSON-LD, which the metadata readers still need, hides
    # under another name meanwhile. Walking a large tree in Python costs a second.
    json_ld = tree.xpath("//script[contains(@type, 'ld+json')]")
    for script in json_ld:
        script.tag = "tracer-json-ld"
    etree.strip_elements(tree, *_DROPPED_TAGS, with_tail=False)
    for script in json_ld:
        script.tag = "script"
    return _truncate(tree, MAX_ELEMENTS)


def _truncate(tree: Any, limit: int) -> int:
    """Drops every element after the first `limit` in document order; returns how many remain."""
    count = int(tree.xpath("count(//*)"))
    if count <= limit:
        return count
    beyond = tree.xpath(f"(//*)[{limit + 1}]")[0]
    parent = beyond.getparent()
    del parent[parent.index(beyond) :]
    while (grandparent := parent.getparent()) is not None:
        del grandparent[grandparent.index(parent) + 1 :]
        parent = grandparent
    return limit


def _day(moment: datetime | None) -> Precision | None:
    return Precision.day if moment is not None else None


def _declared_language(tree: Any) -> str | None:
    declared = [tree.get("lang"), tree.get("xml:lang")]
    declared += tree.xpath(
        "//meta[translate(@http-equiv, 'CONTELAGU', 'contelagu')='content-language']/@content"
    )
    declared += tree.xpath("//meta[@property='og:locale']/@content")
    for value in declared:
        if isinstance(value, str):
            tag = value.split(",", 1)[0].strip().replace("_", "-")
            if tag and tag.lower() != "und" and langcodes.tag_is_valid(tag):
                return str(langcodes.standardize_tag(tag))
    return None


def _detected_language(text: str | None) -> str | None:
    sample = (text or "")[:2000]
    if sum(ch.isalpha() for ch in sample) < 20:
        return None
    # The identifier builds its model on first use; the lock keeps two threads from racing there.
    with _langid_lock:
        language, _ = langid.classify(sample)
    return str(language)


def _canonical_link(tree: Any, url: str) -> str | None:
    links = tree.xpath(
        "//link[contains(concat(' ', translate(@rel, 'CANOIL', 'canoil'), ' '), ' canonical ')]"
        "/@href"
    )
    bases = tree.xpath("//base/@href")
    for href in (*links, *tree.xpath("//meta[@property='og:url']/@content")):
        try:
            base = urljoin(url, str(bases[0]).strip()) if bases else url
            return check_web_url(urljoin(base, str(href).strip()))
        except ValueError:  # a refused URL, or one urljoin cannot parse ("http://[")
            continue
    return None


def _telegram_post(tree: Any) -> Any:
    return next(
        (
            element
            for element in tree.xpath("//*[@data-post]")
            if "tgme_widget_message" in (element.get("class") or "").split()
        ),
        None,
    )


def _read_telegram(post: Any, clock: datetime) -> Page:
    """A post from its embed page: the channel's name, the text, and the time it was posted."""
    address = str(post.get("data-post")).strip("/")
    owner = _by_class(post, "tgme_widget_message_owner_name")
    site_name = _clean(owner.text_content() if owner is not None else None) or address.split("/")[0]
    body = next(
        (
            element
            for element in _all_by_class(post, "tgme_widget_message_text")
            if not any("reply" in (a.get("class") or "") for a in element.iterancestors())
        ),
        None,
    )
    text = _telegram_text(body) if body is not None else None
    stamp = post.xpath(
        ".//*[contains(concat(' ', normalize-space(@class), ' '), ' tgme_widget_message_date ')]"
        "//time/@datetime"
    )
    published, _ = parse_date(str(stamp[0]), now=clock) if stamp else (None, None)
    words = " ".join((text or "").split()[:12])
    title = f"{site_name}: {_excerpt(words, 100)}" if words else site_name
    return Page(
        title=title,
        site_name=site_name,
        published_at=published,
        published_at_precision=Precision.exact if published else None,
        language=_detected_language(text),
        excerpt=_excerpt(text),
        canonical_link=_telegram_link(address),
        text=text,
    )


def _telegram_text(element: Any) -> str | None:
    for line_break in element.iter("br"):
        line_break.tail = "\n" + (line_break.tail or "")
    return "\n".join(line.strip() for line in element.text_content().splitlines()).strip() or None


def _telegram_link(address: str) -> str | None:
    try:
        return canonical_url(f"https://t.me/{address}")
    except UrlRefused:
        return None


def _all_by_class(root: Any, name: str) -> list[Any]:
    return list(
        root.xpath(f".//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]")
    )


def _by_class(root: Any, name: str) -> Any:
    found = _all_by_class(root, name)
    return found[0] if found else None


def _after_title(text: str | None, title: str | None) -> str | None:
    """The text without the headline it starts with, which the excerpt would only repeat."""
    if text and title and text.startswith(title):
        return text[len(title) :].lstrip() or text
    return text


def _clean(value: str | None) -> str | None:
    return (" ".join(value.split())[:500] or None) if value else None


def _excerpt(text: str | None, limit: int = EXCERPT_LENGTH) -> str | None:
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat or None
    cut = flat[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"
