"""Canonical URLs, refused URLs and outlet domain entries, by the contract's URL rules."""

import itertools
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from app.urls import (
    UrlRefused,
    best_entry,
    canonical_domain_entry,
    canonical_url,
    check_web_url,
    covers,
    domain_candidates,
)
from app.validators import WebUrl

_WEB_URL: TypeAdapter[str] = TypeAdapter(WebUrl)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        # http and https compare equal; host lower-cased; default ports dropped.
        ("HTTP://Example.COM/News", "https://example.com/News"),
        ("http://example.com:80/a", "https://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:8080/a", "https://example.com:8080/a"),
        # www., m. and amp. prefixes, also stacked.
        ("https://www.asiatimes.com/", "https://asiatimes.com/"),
        ("https://m.facebook.com/post", "https://facebook.com/post"),
        ("https://amp.theguardian.com/world", "https://theguardian.com/world"),
        ("https://www.m.bbc.co.uk/news", "https://bbc.co.uk/news"),
        # The fragment goes.
        ("https://example.com/a#top", "https://example.com/a"),
        # Tracking parameters go, the rest are sorted.
        (
            "https://example.com/a?utm_source=telegram&b=2&utm_medium=x&a=1&fbclid=F",
            "https://example.com/a?a=1&b=2",
        ),
        (
            "https://example.com/?gclid=1&yclid=2&mc_cid=3&mc_eid=4&igshid=5&ref_src=6&amp=1",
            "https://example.com/",
        ),
        ("https://example.com/?UTM_Source=x&id=7", "https://example.com/?id=7"),
        # A trailing /amp segment goes.
        ("https://example.com/news/story/amp", "https://example.com/news/story"),
        ("https://example.com/news/story/amp/", "https://example.com/news/story/"),
        # Telegram's preview form is the post.
        ("https://t.me/s/kremlinlaundress/1200", "https://t.me/kremlinlaundress/1200"),
        ("http://www.t.me/s/kremlinlaundress/1200", "https://t.me/kremlinlaundress/1200"),
        # IDN hosts in punycode, paths percent-encoded, path case kept.
        ("https://пример.рф/Путь", "https://xn--e1afmkfd.xn--p1ai/%D0%9F%D1%83%D1%82%D1%8C"),
        ("https://ПРИМЕР.РФ/", "https://xn--e1afmkfd.xn--p1ai/"),
        ("https://example.com/A/b", "https://example.com/A/b"),
        # IPv6 literals, compressed.
        ("http://[0:0:0::1]:8080/x", "https://[::1]:8080/x"),
        ("https://example.com.", "https://example.com/"),
    ],
)
def test_canonical_form(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    "variant",
    [
        "https://example.com/a~b/c?x=1&y=2",
        "https://example.com/a%7eb/c?y=2&x=1",
        "https://example.com/a%7Eb/c?x=%31&y=2",
        "http://www.example.com/%61~b/c?x=1&y=2#frag",
        "https://EXAMPLE.com:443/a~b/c/amp?x=1&y=2&utm_campaign=z",
    ],
)
def test_equivalent_forms_compare_equal(variant: str) -> None:
    assert canonical_url(variant) == "https://example.com/a~b/c?x=1&y=2"


def test_different_resources_stay_different() -> None:
    assert canonical_url("https://example.com/A") != canonical_url("https://example.com/a")
    assert canonical_url("https://example.com/a%2Fb") != canonical_url("https://example.com/a/b")
    assert canonical_url("https://example.com/?id=1") != canonical_url("https://example.com/?id=2")
    assert canonical_url("https://example.com:8443/") != canonical_url("https://example.com/")


@pytest.mark.parametrize(
    "url",
    [
        "https://www.gov.uk/guidance",  # gov.uk is a public suffix: www is the site itself
        "https://amp.dev/",
        "https://m.me/someone",
        "https://t.me/amp",  # a channel called amp, not an AMP copy of t.me's home page
    ],
)
def test_prefixes_and_amp_stay_when_they_are_the_site(url: str) -> None:
    assert canonical_url(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("javascript:alert(1)", "http or https"),
        ("JavaScript:alert(document.cookie)//https://example.com/", "http or https"),
        ("data:text/html;base64,PHNjcmlwdD4=", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("ftp://example.com/file", "http or https"),
        ("example.com/news", "whole URL"),
        ("https://user:pass@example.com/", "user name or password"),
        ("https://user@example.com/", "user name or password"),
        ("https://:secret@example.com/", "user name or password"),
        ("https://", "host"),
        ("http://[::1]:99999/", "port"),
        ("http://example.com:٨٠/", "port"),  # Arabic-Indic digits
        ("http://example.com:\uff18\uff10/", "port"),  # fullwidth digits
        ("http://example.com:-1/", "port"),
        ("https://exa mple.com/", "host name"),
        ("https://exa<mple.com/", "host name"),
        ("https://[fe80::1%25eth0]/", "IPv6"),
        ("https://example.com\x00.evil.test/", "control characters"),
        ("https://exa\tmple.com/", "control characters"),
        ("https://example.com/a\nb", "control characters"),
        ("https://example.com/\x7f", "control characters"),
        ("", "empty"),
        ("   ", "empty"),
        ("https://example.com/?q=" + "x" * 2030, "2,048"),
        ("https://example.com/?q=" + "й" * 1000, "encoded"),
        ("https://" + "a." * 130 + "com/", "longer than 253"),
    ],
)
def test_hostile_urls_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused, match=reason):
        check_web_url(url)
    with pytest.raises(ValueError, match=reason):
        canonical_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "http://localhost:8000/x",
        "http://127.0.0.1:8080/press/1",
        "https://[2001:db8::1]/a",
        "https://пример.рф/",
        "https://example.com/a b",  # spaces in a path are encoded, as browsers do
        "  https://example.com/padded  ",
        "https://example.com/?q=" + "x" * 2000,
        "http:/example.com/one-slash",
        "https://ex_ample.com/",
        "https://example.com:0/",
    ],
)
def test_what_is_accepted_today_stays_accepted(url: str) -> None:
    assert check_web_url(url) == _WEB_URL.validate_python(url)


@pytest.mark.parametrize(
    ("entry", "stored"),
    [
        ("asiatimes.com", "asiatimes.com"),
        ("www.asiatimes.com", "asiatimes.com"),
        ("AsiaTimes.COM.", "asiatimes.com"),
        ("https://t.me/kremlinlaundress/", "t.me/kremlinlaundress"),
        ("t.me/s/kremlinlaundress", "t.me/kremlinlaundress"),
        ("youtube.com/@channelone", "youtube.com/@channelone"),
        ("https://m.youtube.com/@channelone/", "youtube.com/@channelone"),
        ("127.0.0.1:8080/press", "127.0.0.1:8080/press"),
        ("http://127.0.0.1:80/press", "127.0.0.1/press"),
        ("https://example.com:443", "example.com"),
        ("[::1]:8080/feed", "[::1]:8080/feed"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("localhost:8080", "localhost:8080"),
        ("  ria.ru  ", "ria.ru"),
    ],
)
def test_domain_entries_are_stored_canonical(entry: str, stored: str) -> None:
    assert canonical_domain_entry(entry) == stored


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("example.com/?page=1", "query or fragment"),
        ("example.com#top", "query or fragment"),
        ("user:pass@example.com", "user name or password"),
        ("https://user@example.com/x", "user name or password"),
        ("javascript:alert(1)", "http or https"),
        ("ftp://example.com", "http or https"),
        ("exa mple.com", "host name"),
        ("example.com:99999", "port"),
        ("com", "suffix shared by unrelated sites"),
        ("co.uk", "suffix shared by unrelated sites"),
        ("github.io", "suffix shared by unrelated sites"),
        ("example.com/a/b/c/d/e/f/g/h/i", "at most 8 path segments"),
        ("", "empty"),
    ],
)
def test_bad_domain_entries_are_refused(entry: str, reason: str) -> None:
    with pytest.raises(UrlRefused, match=reason):
        canonical_domain_entry(entry)


def test_candidates_for_a_telegram_post() -> None:
    assert domain_candidates("https://t.me/kremlinlaundress/1200") == [
        "t.me/kremlinlaundress/1200",
        "t.me/kremlinlaundress",
        "t.me",
    ]


def test_candidates_climb_to_the_registrable_domain_and_no_further() -> None:
    assert domain_candidates("https://news.asiatimes.com/a/b/?x=1#f") == [
        "news.asiatimes.com/a/b",
        "news.asiatimes.com/a",
        "news.asiatimes.com",
        "asiatimes.com",
    ]
    assert domain_candidates("https://a.b.bbc.co.uk/") == [
        "a.b.bbc.co.uk",
        "b.bbc.co.uk",
        "bbc.co.uk",
    ]
    assert domain_candidates("https://x.alice.github.io:8443/p") == [
        "x.alice.github.io:8443/p",
        "x.alice.github.io:8443",
        "alice.github.io:8443",
    ]


def test_ip_hosts_have_no_parents() -> None:
    assert domain_candidates("http://127.0.0.1:8080/press/1") == [
        "127.0.0.1:8080/press/1",
        "127.0.0.1:8080/press",
        "127.0.0.1:8080",
    ]
    assert domain_candidates("https://[2001:db8::1]/") == ["[2001:db8::1]"]


def test_candidates_are_bounded_and_longest_first() -> None:
    url = "https://deep.example.com/" + "/".join(string.ascii_lowercase) + "?" + "q=1" * 600
    candidates = domain_candidates(url)

    assert len(candidates) == 8 + 2
    assert candidates[0] == "deep.example.com/a/b/c/d/e/f/g/h"
    assert all(len(a) > len(b) for a, b in itertools.pairwise(candidates))


def test_an_entry_matches_on_segment_boundaries_only() -> None:
    assert covers("t.me/kremlinlaundress", "https://t.me/kremlinlaundress/1200")
    assert covers("t.me/kremlinlaundress", "https://t.me/s/kremlinlaundress/1200")
    assert not covers("t.me/kremlinlaundress", "https://t.me/kremlinlaundress2/1")
    assert covers("asiatimes.com", "https://news.asiatimes.com/article")
    assert not covers("asiatimes.com", "https://notasiatimes.com/article")
    assert not covers("asiatimes.com/opinion", "https://news.asiatimes.com/opinion/1")
    assert not covers("127.0.0.1:8080/press", "http://127.0.0.1:9090/press/1")


def test_best_entry_is_the_longest_stored_match() -> None:
    stored = {"t.me", "t.me/kremlinlaundress", "t.me/kremlinlaundress2"}

    assert best_entry(stored, domain_candidates("https://t.me/kremlinlaundress/1")) == (
        "t.me/kremlinlaundress"
    )
    assert best_entry(stored, domain_candidates("https://t.me/other/1")) == "t.me"
    assert best_entry(stored, domain_candidates("https://example.com/")) is None


_segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12
)
_urls = st.builds(
    lambda scheme, host, port, path, query, fragment: (
        f"{scheme}://{host}{port}/{'/'.join(path)}{query}{fragment}"
    ),
    st.sampled_from(["http", "https", "HTTPS"]),
    st.sampled_from(
        [
            "example.com",
            "www.Example.com",
            "m.t.me",
            "пример.рф",
            "[::1]",
            "127.0.0.1",
            "amp.bbc.co.uk",
        ]
    ),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.lists(st.one_of(_segment, st.sampled_from(["amp", "s", "%7e", "%2F", "%zz"])), max_size=5),
    st.lists(
        st.tuples(st.sampled_from(["utm_source", "a", "B", "amp", "ä", "q"]), _segment), max_size=4
    ).map(lambda pairs: "?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else ""),
    st.sampled_from(["", "#top", "#"]),
)


@settings(max_examples=300, deadline=None)
@given(_urls)
def test_canonical_form_is_a_fixed_point(url: str) -> None:
    try:
        once = canonical_url(url)
    except UrlRefused:
        return
    assert canonical_url(once) == once
    assert check_web_url(once) == once
    assert canonical_domain_entry(domain_candidates(once)[-1]) == domain_candidates(once)[-1]
