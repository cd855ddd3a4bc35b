"""Reading fetched pages: text, title, site, date in the contract's order, language, charsets."""

import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.enums import Precision
from app.evidence.dates import parse_date
from app.evidence.reading import read_page, telegram_embed_url, text_sha256

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
HTML = "text/html; charset=utf-8"

STORY = (
    "North Korea has offered to send one hundred thousand troops to fight in eastern Ukraine, "
    "a presenter on Russian state television said on Thursday, citing unnamed sources. "
    "No government confirmed the offer, and the ministry in Pyongyang did not answer questions. "
)
FOLLOW_UP = (
    "Analysts who follow the region said the claim resembled earlier rumours that had spread "
    "through anonymous channels before reaching national broadcasters within a single day. "
)


def article(head: str = "", body_top: str = "", *, lang: str = ' lang="en"') -> str:
    return f"""<!doctype html>
<html{lang}><head><meta charset="utf-8"><title>Troops offer | Asia Times</title>{head}</head>
<body><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/asia">Asia</a></nav>
{body_top}
<article><h1>North Korea offers troops</h1><p>{STORY * 2}</p><p>{FOLLOW_UP * 2}</p></article>
<footer>Copyright Asia Times. All rights reserved.</footer></body></html>"""


def test_an_article_with_json_ld() -> None:
    page = read_page(
        article(
            head="""
<meta property="og:site_name" content="Asia Times">
<meta property="article:published_time" content="2022-08-01T00:00:00Z">
<link rel="Canonical" href="/2022/08/north-korea-troops/">
<script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [
  {"@type": "WebPage", "datePublished": "2021-01-01"},
  {"@type": ["NewsArticle"], "headline": "North Korea offers troops",
   "datePublished": "2022-08-04T10:15:00+03:00"}]}
</script>""",
            body_top='<time datetime="2022-07-01">July</time>',
        ).encode(),
        url="https://asiatimes.com/2022/08/north-korea-troops/?utm_source=telegram",
        content_type=HTML,
        now=NOW,
    )

    assert page.title == "North Korea offers troops"
    assert page.site_name == "Asia Times"
    assert page.published_at == datetime(2022, 8, 4, 7, 15, tzinfo=UTC)
    assert page.published_at_precision == Precision.exact
    assert page.language == "en"
    assert page.canonical_link == "https://asiatimes.com/2022/08/north-korea-troops/"
    assert page.text is not None
    assert "one hundred thousand troops" in page.text
    assert "All rights reserved" not in page.text
    assert "Home" not in page.text
    assert page.excerpt is not None
    assert page.excerpt.startswith("North Korea has offered")
    assert len(page.excerpt) <= 300


def test_only_meta_published_time() -> None:
    page = read_page(
        article(
            head='<meta property="article:published_time" content="2022-08-04">'
            '<meta property="og:url" content="https://www.asiatimes.com/a/">'
        ).encode(),
        url="https://asiatimes.com/a/",
        content_type=HTML,
        now=NOW,
    )

    assert page.published_at == datetime(2022, 8, 4, tzinfo=UTC)
    assert page.published_at_precision == Precision.day
    assert page.canonical_link == "https://www.asiatimes.com/a/"


def test_only_a_time_element_without_offset_is_utc() -> None:
    page = read_page(
        article(
            body_top='<p>Posted <time datetime="2022-08-04T18:30">Thursday</time></p>'
        ).encode(),
        url="https://asiatimes.com/a",
        content_type=HTML,
        now=NOW,
    )

    assert page.published_at == datetime(2022, 8, 4, 18, 30, tzinfo=UTC)
    assert page.published_at_precision == Precision.exact


@pytest.mark.parametrize(
    "url",
    [
        "https://asiatimes.com/2022/08/04/north-korea-troops/",
        "https://asiatimes.com/news/2022-08-04-north-korea-troops",
    ],
)
def test_a_date_only_in_the_url(url: str) -> None:
    page = read_page(article().encode(), url=url, content_type=HTML, now=NOW)

    assert page.published_at == datetime(2022, 8, 4, tzinfo=UTC)
    assert page.published_at_precision == Precision.day


def test_no_date_anywhere() -> None:
    page = read_page(article().encode(), url="https://asiatimes.com/a/", content_type=HTML, now=NOW)

    assert (page.published_at, page.published_at_precision) == (None, None)
    assert page.title == "North Korea offers troops"


def test_dates_pages_lie_about_are_skipped() -> None:
    head = (
        '<script type="application/ld+json">{"datePublished": "2031-01-01T00:00:00Z"}</script>'
        '<meta property="article:published_time" content="1970-01-01T00:00:00Z">'
        '<meta property="article:published_time" content="not a date">'
    )
    page = read_page(
        article(head=head, body_top='<time datetime="2023-02">February</time>').encode(),
        url="https://asiatimes.com/a",
        content_type=HTML,
        now=NOW,
    )

    assert page.published_at == datetime(2023, 2, 1, tzinfo=UTC)
    assert page.published_at_precision == Precision.month


def test_json_ld_that_is_broken_or_hostile_is_passed_over() -> None:
    head = (
        '<script type="application/ld+json">{"datePublished": </script>'
        f'<script type="application/ld+json">{"[" * 50_000}</script>'
        '<script type="application/ld+json">[{"@type": "Article", "datePublished": 5},'
        ' {"@type": "Article", "datePublished": "Thu, 04 Aug 2022 10:00:00 +0300"}]</script>'
    )
    page = read_page(
        article(head=head).encode(), url="https://asiatimes.com/a", content_type=HTML, now=NOW
    )

    assert page.published_at == datetime(2022, 8, 4, 7, 0, tzinfo=UTC)


def test_language_detected_when_the_page_declares_none() -> None:
    russian = (
        "Северная Корея предложила направить сто тысяч военных на восток Украины, "
        "сообщил ведущий государственного телевидения со ссылкой на анонимные источники. "
    )
    html = f"<html><head><title>Войска</title></head><body><article><p>{russian * 3}</p>"
    html += f"<p>{russian * 2}</p></article></body></html>"

    page = read_page(html.encode(), url="https://ria.ru/a", content_type=HTML, now=NOW)

    assert page.language == "ru"


def test_declared_language_is_a_bcp47_tag() -> None:
    page = read_page(
        article(lang=' lang="uk_UA"').encode(), url="https://x.ua/a", content_type=HTML, now=NOW
    )

    assert page.language == "uk-UA"


TELEGRAM_EMBED = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Telegram Widget</title>
<meta property="og:title" content="Кремлёвская прачка"></head>
<body class="body_widget_post emoji_image nodesc">
<div class="tgme_widget_message_wrap js-widget_message_wrap">
 <div class="tgme_widget_message text_not_supported_wrap js-widget_message"
      data-post="kremlinlaundress/1200" data-view="eyJjIjoxfQ">
  <div class="tgme_widget_message_user"><a href="https://t.me/kremlinlaundress"></a></div>
  <div class="tgme_widget_message_bubble">
   <div class="tgme_widget_message_author accent_color">
    <a class="tgme_widget_message_owner_name" href="https://t.me/kremlinlaundress"><span
       dir="auto">Кремлёвская прачка</span></a></div>
   <a class="tgme_widget_message_reply" href="https://t.me/kremlinlaundress/1100">
    <div class="tgme_widget_message_text js-message_reply_text">An earlier post</div></a>
   <div class="tgme_widget_message_text js-message_text" dir="auto">КНДР готова отправить
    100 000 добровольцев в ЛНР и ДНР.<br/>Источники подтверждают.<br/><br/>Подписывайтесь</div>
   <div class="tgme_widget_message_footer compact js-message_footer">
    <div class="tgme_widget_message_info short js-message_info">
     <span class="tgme_widget_message_views">1.2K</span>
     <span class="tgme_widget_message_meta"><a class="tgme_widget_message_date"
        href="https://t.me/kremlinlaundress/1200"><time datetime="2022-08-04T06:12:09+00:00"
        class="time">06:12</time></a></span></div></div></div></div></div>
</body></html>"""


def test_a_telegram_embed_page() -> None:
    page = read_page(
        TELEGRAM_EMBED.encode(),
        url="https://t.me/kremlinlaundress/1200?embed=1&mode=tme",
        content_type="text/html; charset=utf-8",
        now=NOW,
    )

    assert page.site_name == "Кремлёвская прачка"
    assert page.text == (
        "КНДР готова отправить\n100 000 добровольцев в ЛНР и ДНР.\nИсточники подтверждают."
        "\n\nПодписывайтесь"
    )
    assert page.published_at == datetime(2022, 8, 4, 6, 12, 9, tzinfo=UTC)
    assert page.published_at_precision == Precision.exact
    assert page.title is not None
    assert page.title.startswith("Кремлёвская прачка: КНДР готова отправить 100 000")
    assert page.canonical_link == "https://t.me/kremlinlaundress/1200"
    assert page.language == "ru"


@pytest.mark.parametrize(
    ("url", "embed"),
    [
        (
            "https://t.me/kremlinlaundress/1200",
            "https://t.me/kremlinlaundress/1200?embed=1&mode=tme",
        ),
        (
            "http://t.me/s/kremlinlaundress/1200#x",
            "https://t.me/kremlinlaundress/1200?embed=1&mode=tme",
        ),
        ("https://t.me/kremlinlaundress", None),
        ("https://t.me/c/1234/56", None),
        ("https://example.com/kremlinlaundress/1200", None),
        ("javascript:alert(1)", None),
    ],
)
def test_telegram_embed_url(url: str, embed: str | None) -> None:
    assert telegram_embed_url(url) == embed


CYRILLIC = "Северная Корея предложила направить войска на восток Украины, сообщили источники. "


def cp1251_page(meta: str) -> bytes:
    html = f"<html><head>{meta}<title>Новости</title></head><body><article>"
    html += f"<p>{CYRILLIC * 4}</p><p>{CYRILLIC * 3}</p></article></body></html>"
    return html.encode("cp1251")


def test_a_page_whose_meta_lies_about_its_charset() -> None:
    page = read_page(
        cp1251_page('<meta charset="utf-8">'),
        url="https://x.ru/a",
        content_type="text/html",
        now=NOW,
    )

    assert page.title == "Новости"
    assert page.text is not None
    assert "Северная Корея предложила" in page.text


def test_the_http_charset_comes_first_and_meta_is_used_without_it() -> None:
    body = cp1251_page('<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">')

    for content_type in ("text/html; charset=windows-1251", "text/html"):
        page = read_page(body, url="https://x.ru/a", content_type=content_type, now=NOW)
        assert page.title == "Новости"


def test_a_bom_decides_the_encoding() -> None:
    body = "\ufeff<html><head><title>Привет</title></head><body>x</body></html>".encode("utf-16")

    page = read_page(body, url="https://x.ru/a", content_type="text/html", now=NOW)

    assert page.title == "Привет"


def test_invalid_utf8_bytes_do_not_spoil_the_rest() -> None:
    body = article().encode("utf-8").replace(b"one hundred", b"one \xff\xfe hundred")
    body = body.replace(b"Asia Times</title>", "Азия\xa0Таймс</title>".encode() + b"\xc3")

    page = read_page(body, url="https://asiatimes.com/a", content_type=HTML, now=NOW)

    assert page.text is not None
    assert "one \ufffd\ufffd hundred thousand troops" in page.text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "text/html"),
        (b"   \n ", "text/html; charset=utf-8"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj", "application/pdf"),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj", "text/html"),  # a PDF served as HTML
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b'{"datePublished": "2022-08-04"}', "application/json"),
        (b"\x00\x01\x02\x03", None),
        (b"<html><body><p></p></body></html>", "text/html; charset=base64"),
        (b"<html>" * 1000, "text/html; charset=no-such-charset"),
    ],
)
def test_bodies_with_nothing_to_read_give_an_empty_page(body: bytes, content_type: str) -> None:
    page = read_page(body, url="https://x.org/file", content_type=content_type, now=NOW)

    assert page.text is None
    assert page.published_at is None


def test_a_pdf_still_gives_the_date_in_its_url() -> None:
    page = read_page(
        b"%PDF-1.4\n", url="https://mid.ru/2022/08/04/statement.pdf", content_type=None, now=NOW
    )

    assert page.published_at == datetime(2022, 8, 4, tzinfo=UTC)
    assert page.text is None


def test_html_served_without_a_type_is_sniffed_and_plain_text_is_text() -> None:
    sniffed = read_page(article().encode(), url="https://x.org/a", content_type=None, now=NOW)
    plain = read_page(
        "Заявление МИД.\n".encode(), url="https://x.org/a.txt", content_type="text/plain"
    )

    assert sniffed.title == "North Korea offers troops"
    assert plain.text == "Заявление МИД."


def test_a_five_megabyte_page_is_read_in_a_couple_of_seconds() -> None:
    filler = "".join(
        f'<div class="teaser t{i % 9}"><a href="/story/{i}">Headline number {i} about '
        f"another matter</a><span>{i} minutes ago</span><script>track({i});</script></div>"
        for i in range(36_000)
    )
    body = article().replace("<footer>", f"<aside>{filler}</aside><footer>").encode()
    assert len(body) > 5_000_000

    started = time.perf_counter()
    page = read_page(body, url="https://asiatimes.com/a", content_type=HTML, now=NOW)
    elapsed = time.perf_counter() - started

    assert elapsed < 3.0, f"{elapsed:.2f} s"
    assert page.title == "North Korea offers troops"
    assert page.text is not None
    assert "one hundred thousand troops" in page.text


def test_text_sha256() -> None:
    assert text_sha256(None) is None
    assert text_sha256("") is None
    assert text_sha256("Привет") == (
        "dd679c0b9fd408a04148aa7d30c9df393f67b7227f65693fffe0ed6d0f0ade59"
    )


def test_hostile_markup_is_read_without_a_crash() -> None:
    head = (
        '<base href="http://[">'
        '<link rel="canonical" href="javascript:alert(1)">'
        '<meta property="og:url" content="https://user:pw@asiatimes.com/">'
        f'<script type="application/ld+json">{{"a": "{"x" * 1_100_000}"}}</script>'
    )
    # Nesting past the parser's depth limit ends the document there, so it comes last here.
    nested = "<div>" * 20_000 + "deep" + "</div>" * 20_000
    html = article(head=head, body_top="<p>\x00\x01\x1b[31m</p>")
    body = html.replace("<footer>", f"{nested}<footer>").encode()

    page = read_page(body, url="https://asiatimes.com/a", content_type=HTML, now=NOW)

    assert page.canonical_link is None
    assert page.title == "North Korea offers troops"
    assert page.text is not None
    assert "one hundred thousand troops" in page.text


def test_a_telegram_post_with_no_text_is_named_after_its_channel() -> None:
    start = TELEGRAM_EMBED.index('<a class="tgme_widget_message_reply"')
    end = TELEGRAM_EMBED.index('<div class="tgme_widget_message_footer')
    media_only = TELEGRAM_EMBED[:start] + TELEGRAM_EMBED[end:]

    page = read_page(
        media_only.encode(), url="https://t.me/kremlinlaundress/1200", content_type=HTML, now=NOW
    )

    assert (page.title, page.text, page.excerpt) == ("Кремлёвская прачка", None, None)
    assert page.published_at == datetime(2022, 8, 4, 6, 12, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected", "precision"),
    [
        ("2022-08-04T10:15:00Z", datetime(2022, 8, 4, 10, 15, tzinfo=UTC), Precision.exact),
        ("2022-08-04 10:15", datetime(2022, 8, 4, 10, 15, tzinfo=UTC), Precision.exact),
        ("2022-08-04T10:15:00-04:00", datetime(2022, 8, 4, 14, 15, tzinfo=UTC), Precision.exact),
        ("Thu, 04 Aug 2022 10:00:00 GMT", datetime(2022, 8, 4, 10, tzinfo=UTC), Precision.exact),
        ("  2022-08-04 ", datetime(2022, 8, 4, tzinfo=UTC), Precision.day),
        ("20220804", datetime(2022, 8, 4, tzinfo=UTC), Precision.day),
        ("2022-08", datetime(2022, 8, 1, tzinfo=UTC), Precision.month),
        ("2024-03-02T11:00:00Z", datetime(2024, 3, 2, 11, tzinfo=UTC), Precision.exact),
        ("2024-03-02T13:00:00Z", None, None),  # more than a day ahead of NOW
        ("1989-12-31", None, None),
        ("2022-13-01", None, None),
        ("2022", None, None),
        ("yesterday", None, None),
        ("9" * 10_000, None, None),
    ],
)
def test_date_formats_and_their_precision(
    value: str, expected: datetime | None, precision: Precision | None
) -> None:
    assert parse_date(value, now=NOW) == (expected, precision)


_markup = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "<html>",
                "<head>",
                "<body>",
                "<p>",
                "</p>",
                "<div>",
                "</div>",
                "<title>",
                "<time datetime='2022-08-04'>",
                '<meta charset="koi8-r">',
                "<br/>",
                '<script type="application/ld+json">{"@graph": [',
                "</script>",
                "\x00",
                "\ufeff",
                '<div class="tgme_widget_message" data-post="a/1">',
                "<base href='//['>",
                '<link rel="canonical" href="',
                "\"'>",
                "&#0;",
                "&#x110000;",
                "<![CDATA[",
            ]
        ),
        st.text(max_size=20),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(_markup.map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary()),
    st.sampled_from([None, "text/html", "text/html; charset=utf-16", "text/plain", "image/png"]),
)
def test_any_bytes_give_a_page_never_an_exception(body: bytes, content_type: str | None) -> None:
    page = read_page(body, url="https://t.me/a/1", content_type=content_type, now=NOW)

    assert page.text is None or page.text.strip()
