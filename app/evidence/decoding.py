"""A fetched body as text, whatever its headers and `<meta>` claim about its charset."""

import re

import charset_normalizer

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
# Labels browsers read as another encoding than Python's codec of the same name (WHATWG Encoding).
_BROWSER_LABELS = {"iso-8859-1": "cp1252", "latin1": "cp1252", "ascii": "cp1252"}
_BROWSER_LABELS |= {"us-ascii": "cp1252", "gb2312": "gb18030", "gbk": "gb18030"}
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9._:\-]+)", re.I)


def decode_body(body: bytes, http_charset: str | None) -> str:
    """The body as text: BOM, HTTP charset, UTF-8, then `<meta charset>`; else a good guess.

    Each declared encoding is tried strictly, so a page whose `<meta>` claims UTF-8 over cp1251
    bytes falls through to detection instead of turning into replacement characters. A BOM wins
    over the HTTP header, as in browsers (HTML Living Standard, "encoding sniffing").
    """
    bom = next((codec for mark, codec in _BOMS if body.startswith(mark)), None)
    meta = _META_CHARSET.search(body[:4096])
    for label in (bom, http_charset, "utf-8", meta[1].decode("ascii") if meta else None):
        codec = _codec(label)
        if codec is None:
            continue
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    # UTF-8 with a few broken bytes stays UTF-8: legacy text almost never forms valid sequences.
    loose = body.decode("utf-8", errors="replace")
    broken = loose.count("\ufffd")
    if len(loose) - len(loose.encode("ascii", "ignore")) - broken >= broken:
        return loose
    guess = charset_normalizer.from_bytes(body[:65_536]).best()
    return body.decode(guess.encoding if guess else "utf-8", errors="replace")


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    name = label.strip().lower()
    name = _BROWSER_LABELS.get(name, name)
    try:
        # Refuses unknown labels and codecs that are not text encodings (base64, zlib, rot13).
        b"a".decode(name)
    except LookupError:
        return None
    except UnicodeDecodeError:
        pass
    return name
