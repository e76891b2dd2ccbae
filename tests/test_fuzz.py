"""No input can stop a run: the byte-level parsers, fuzzed with hypothesis.

Each property feeds arbitrary bytes, charset labels and URLs (and documents built from them,
so the fuzzer gets past the first parse error) and asserts that only the stage's typed error
can escape. Derandomized, so CI sees the same examples every run; MARSAD_FUZZ_SCALE=20 runs
twenty times as many when hunting locally.
"""

from __future__ import annotations

import encodings.aliases
import gzip
import os
from html import escape

import webencodings.labels
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marsad.charset import decode, detect_encoding, header_charset
from marsad.fetch.feeds import NotAFeed, discover_feed_links, parse_feed, sniff
from marsad.fetch.sitemaps import Sitemap, gunzip_bounded, parse_sitemap

SCALE = int(os.environ.get("MARSAD_FUZZ_SCALE", "1"))
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(n: int) -> settings:
    return settings(FUZZ, max_examples=n * SCALE)


WHATWG_NAMES = set(webencodings.labels.LABELS.values())
PY_CODECS = sorted(set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values()))
HOSTILE_CODECS = ["hex", "rot13", "rot_13", "base64", "zlib", "bz2", "uu", "quopri", "idna"]
HOSTILE_CODECS += ["punycode", "undefined", "utf-7", "utf7", "unicode_escape", "raw_unicode_escape"]
LABELS = st.one_of(
    st.sampled_from(PY_CODECS + HOSTILE_CODECS),
    st.sampled_from(sorted(webencodings.labels.LABELS)),
    st.text(max_size=20),
    st.sampled_from(HOSTILE_CODECS).map(lambda s: f" {s.upper()}\t"),
)
CONTENT_TYPES = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.builds(lambda label, q: f"text/html; charset={q}{label}{q}", LABELS, st.sampled_from("\"'")),
)

HOSTS = st.sampled_from(
    [
        *("example.com", "[::1", "[::1]", "[fe80::1%25eth0]", "a.test:99999", "a.test:-1", "]"),
        *("", "xn--", "ex ample.com", "%zz", "user@host", "a.test:80:80", "[::ffff:1.2.3.4]"),
        "العربية.مثال",
    ]
)
URLS = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda scheme, host, path: f"{scheme}{host}{path}",
        st.sampled_from(["http://", "https://", "//", "", "javascript:", "ftp://", "HTTP://"]),
        HOSTS,
        st.text(max_size=15).map(lambda s: "/" + s),
    ),
)
TEXT = st.text(max_size=40)
DATES = st.one_of(
    TEXT,
    st.sampled_from(
        [
            *("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2020-02-30"),
            *("Sat, 01 Jan 0001 00:00:00 +0500", "Fri, 31 Dec 9999 23:59:59 -1200"),
            *("Mon, 99 Foo 2020", "10000-01-01"),
        ]
    ),
)


def xml_text(s: str) -> str:
    """Random text as XML character data; sometimes left raw, to break the document."""
    return escape(s) if not s.startswith("!") else s


@st.composite
def rss(draw: st.DrawFn) -> bytes:
    items = draw(st.lists(st.tuples(URLS, TEXT, DATES), max_size=5))
    body = "".join(
        f"<item><link>{xml_text(u)}</link><title>{xml_text(t)}</title>"
        f"<pubDate>{xml_text(d)}</pubDate></item>"
        for u, t, d in items
    )
    decl = draw(st.sampled_from(["", '<?xml version="1.0"?>']))
    enc = draw(
        st.one_of(st.just(""), LABELS.map(lambda e: f'<?xml version="1.0" encoding="{e}"?>'))
    )
    return f'{enc or decl}<rss version="2.0"><channel>{body}</channel></rss>'.encode(
        "utf-8", "surrogatepass"
    )


@st.composite
def atom(draw: st.DrawFn) -> bytes:
    items = draw(st.lists(st.tuples(URLS, TEXT, DATES), max_size=5))
    body = "".join(
        f'<entry><link href="{escape(u)}"/><title>{xml_text(t)}</title>'
        f"<updated>{xml_text(d)}</updated></entry>"
        for u, t, d in items
    )
    return f'<feed xmlns="http://www.w3.org/2005/Atom">{body}</feed>'.encode(
        "utf-8", "surrogatepass"
    )


@st.composite
def sitemap(draw: st.DrawFn) -> bytes:
    index = draw(st.booleans())
    tag, root = ("sitemap", "sitemapindex") if index else ("url", "urlset")
    entries = draw(st.lists(st.tuples(URLS, DATES, TEXT), max_size=5))
    news = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
    body = "".join(
        f"<{tag}><loc>{xml_text(u)}</loc><lastmod>{xml_text(d)}</lastmod>"
        f"<news:news><news:publication_date>{xml_text(d)}</news:publication_date>"
        f"<news:title>{xml_text(t)}</news:title></news:news></{tag}>"
        for u, d, t in entries
    )
    doc = f'<{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" {news}>{body}</{root}>'
    raw = doc.encode("utf-8", "surrogatepass")
    return gzip.compress(raw) if draw(st.booleans()) else raw


@st.composite
def homepage(draw: st.DrawFn) -> str:
    links = draw(st.lists(st.tuples(URLS, st.sampled_from(["rss", "atom", "html"])), max_size=5))
    base = draw(st.one_of(st.just(""), URLS.map(lambda u: f'<base href="{escape(u)}">')))
    heads = "".join(
        f'<link rel="alternate" type="application/{kind}+xml" href="{escape(u)}">'
        for u, kind in links
    )
    junk = draw(st.text(max_size=30))
    return f"<html><head>{base}{heads}{junk}</head><body></body></html>"


# --- charset --------------------------------------------------------------------------------


@fuzz(400)
@given(st.binary(max_size=300), CONTENT_TYPES)
def test_decode_never_raises_on_any_bytes_and_content_type(body: bytes, ctype: str | None) -> None:
    assert isinstance(decode(body, ctype), str)
    assert detect_encoding(body, ctype) in WHATWG_NAMES


@fuzz(400)
@given(LABELS, st.sampled_from(["meta", "http-equiv", "header", "xml"]), st.binary(max_size=60))
def test_any_declared_label_decodes_or_is_ignored(label: str, where: str, tail: bytes) -> None:
    lab = label.encode("utf-8", "surrogatepass")
    ctype = None
    if where == "meta":
        body = b'<html><head><meta charset="' + lab + b'"></head><body>\xd9\x85' + tail
    elif where == "http-equiv":
        body = b'<meta http-equiv="Content-Type" content="text/html; charset=' + lab + b'">' + tail
    elif where == "xml":
        body = b'<?xml version="1.0" encoding="' + lab + b'"?><html>' + tail
    else:
        body, ctype = b"<p>\xd9\x85" + tail, f"text/html; charset={label}"
    text = decode(body, ctype)
    assert isinstance(text, str)
    assert detect_encoding(body, ctype) in WHATWG_NAMES  # never a Python-only codec


@fuzz(300)
@given(CONTENT_TYPES)
def test_header_charset_is_a_whatwg_name_or_none(ctype: str | None) -> None:
    name = header_charset(ctype)
    assert name is None or name in WHATWG_NAMES


def test_every_python_codec_name_is_harmless_in_meta_and_header() -> None:
    """All of them, not a sample: each is a web label (honoured) or ignored (UTF-8 wins)."""
    for codec in PY_CODECS + HOSTILE_CODECS:
        body = f'<meta charset="{codec}"><p>مرحبا</p>'.encode()
        ctype = f"text/html; charset={codec}"
        web = webencodings.lookup(codec)
        for got in (decode(body), decode(b"<p>\xd9\x85</p>", ctype)):
            assert isinstance(got, str)
        if web is None:
            assert header_charset(ctype) is None, codec
            assert detect_encoding(body) == "utf-8" and "مرحبا" in decode(body), codec
        else:
            assert header_charset(ctype) == web.name, codec


# --- feeds, sitemaps, homepages -------------------------------------------------------------


def _parse_feed_or_not_a_feed(body: bytes, url: str) -> None:
    try:
        items = parse_feed(body, url, "src", "ar", 50)
    except NotAFeed:
        return
    for item in items:
        assert isinstance(item.url, str) and item.source == "src"
        assert item.feed_title is None or isinstance(item.feed_title, str)


@fuzz(300)
@given(st.binary(max_size=400), URLS)
def test_parse_feed_raises_only_not_a_feed_on_any_bytes(body: bytes, url: str) -> None:
    _parse_feed_or_not_a_feed(b"<rss>" + body if body[:1] == b"!" else body, url)


@fuzz(300)
@given(st.one_of(rss(), atom()), URLS)
def test_parse_feed_raises_only_not_a_feed_on_built_feeds(body: bytes, url: str) -> None:
    _parse_feed_or_not_a_feed(body, url)


def test_a_malformed_link_costs_its_item_not_the_feed() -> None:
    body = (
        b'<rss version="2.0"><channel><item><link>http://[::1/</link></item>'
        b"<item><link>http://a.test:99999/x</link></item>"
        b"<item><link>https://news.example/ok</link></item></channel></rss>"
    )
    items = parse_feed(body, "https://news.example/rss", "src", "ar", 50)
    assert [i.url for i in items] == ["https://news.example/ok"]


@fuzz(500)
@given(st.binary(max_size=200))
def test_sniff_returns_a_kind_or_none(body: bytes) -> None:
    assert sniff(body) in (None, "rss", "atom", "rdf", "urlset", "sitemapindex")


def _parse_sitemap_or_not_a_feed(body: bytes, url: str) -> None:
    try:
        result = parse_sitemap(body, url, "src", "ar", 100_000)
    except NotAFeed:
        return
    assert isinstance(result, Sitemap)
    for child, when in result.children:
        assert isinstance(child, str) and (when is None or when.tzinfo is not None)
    for item in result.items:
        assert isinstance(item.url, str)


@fuzz(300)
@given(st.binary(max_size=400), URLS)
def test_parse_sitemap_raises_only_not_a_feed_on_any_bytes(body: bytes, url: str) -> None:
    _parse_sitemap_or_not_a_feed(body, url)
    _parse_sitemap_or_not_a_feed(b"\x1f\x8b" + body, url)


@fuzz(300)
@given(sitemap(), URLS)
def test_parse_sitemap_raises_only_not_a_feed_on_built_sitemaps(body: bytes, url: str) -> None:
    _parse_sitemap_or_not_a_feed(body, url)


def test_a_malformed_loc_costs_its_entry_not_the_sitemap() -> None:
    body = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>http://[::1/</loc></url><url><loc>https://a.test/1</loc>"
        b"<lastmod>0001-01-01T00:00:00+05:00</lastmod></url></urlset>"
    )
    result = parse_sitemap(body, "https://a.test/sitemap.xml", "src", "ar", 100_000)
    assert [(i.url, i.feed_published_at) for i in result.items] == [("https://a.test/1", None)]


@fuzz(200)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=5000))
def test_gunzip_bounded_raises_only_not_a_feed(data: bytes, limit: int) -> None:
    for blob in (data, b"\x1f\x8b\x08" + data, gzip.compress(data) + data[:3]):
        try:
            out = gunzip_bounded(blob, limit)
        except NotAFeed:
            continue
        assert len(out) <= limit


def test_gunzip_bounded_reads_every_member() -> None:
    assert gunzip_bounded(gzip.compress(b"ab") + gzip.compress(b"cd"), 10) == b"abcd"


@fuzz(300)
@given(st.one_of(homepage(), st.text(max_size=300)), URLS)
def test_discover_feed_links_never_raises(html: str, page_url: str) -> None:
    links = discover_feed_links(html, page_url)
    assert all(link.startswith(("http://", "https://")) for link in links)
    assert len(links) == len(set(links)) <= 10


def test_a_malformed_href_or_base_is_skipped() -> None:
    html = (
        '<html><head><base href="http://[::1/">'
        '<link rel="alternate" type="application/rss+xml" href="http://[::1/rss">'
        '<link rel="alternate" type="application/rss+xml" href="/feed"></head></html>'
    )
    assert discover_feed_links(html, "https://news.example/") == ["https://news.example/feed"]
    assert discover_feed_links(html, "http://[::1/") == []
