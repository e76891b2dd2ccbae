"""Small pure pieces of the fetch stage: challenge detection, sitemaps, feeds, inflation, state."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from marsad.fetch.body import Inflater
from marsad.fetch.challenge import detect_challenge
from marsad.fetch.feeds import NotAFeed, discover_feed_links, parse_feed, sniff, within_window
from marsad.fetch.http import FetchError
from marsad.fetch.sitemaps import gunzip_bounded, parse_sitemap
from marsad.record import FeedItem
from marsad.state import StateStore
from marsad.warc import WarcWriter, iter_responses


@pytest.mark.parametrize(
    ("headers", "body", "vendor"),
    [
        ({}, b"<html><head><title>Just a moment...</title></head></html>", "cloudflare"),
        ({}, "<title>Just a moment…</title>".encode(), "cloudflare"),
        ({"CF-Mitigated": "challenge"}, b"", "cloudflare"),
        ({}, b"<script src='/cdn-cgi/challenge-platform/x.js'></script>", "cloudflare"),
        ({}, b"<p>Checking your browser before accessing example.com</p>", "generic"),
        ({}, b"<iframe src='https://geo.captcha-delivery.com/captcha/'></iframe>", "datadome"),
        ({}, "<article><p>قالت شركة Cloudflare إن لحظة الانقطاع...</p></article>".encode(), None),
        ({"Server": "cloudflare"}, b"<html><title>A moment in history</title></html>", None),
    ],
)
def test_detect_challenge(headers: dict[str, str], body: bytes, vendor: str | None) -> None:
    assert detect_challenge(headers, body) == vendor


NEWS = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
 <url><loc>https://a.example/2026/11/28/x</loc>
  <news:news><news:publication><news:name>A</news:name><news:language>ar</news:language>
  </news:publication><news:publication_date>2026-11-28T10:00:00+03:00</news:publication_date>
  <news:title>عنوان</news:title></news:news></url>
 <url><loc>/relative</loc><lastmod>2026-11-27</lastmod></url>
</urlset>""".encode()


def test_google_news_sitemap_gives_title_and_date() -> None:
    sm = parse_sitemap(NEWS, "https://a.example/news.xml", "a", "ar", 10_000_000)
    first, second = sm.items
    assert first.feed_title == "عنوان"
    assert first.feed_published_at == datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert second.url == "https://a.example/relative"
    assert second.feed_published_at == datetime(2026, 11, 27, tzinfo=UTC)


def test_gzipped_sitemap_is_recognised_by_content_and_bounded() -> None:
    sm = parse_sitemap(gzip.compress(NEWS), "https://a.example/s", "a", "ar", 10_000_000)
    assert len(sm.items) == 2
    with pytest.raises(NotAFeed, match="inflates past"):
        gunzip_bounded(gzip.compress(b"\0" * 5_000_000), 1_000_000)
    with pytest.raises(NotAFeed, match="truncated"):
        gunzip_bounded(gzip.compress(NEWS)[:-40], 1_000_000)


def test_sitemap_with_a_dtd_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaa">]>'
        b"<urlset><url><loc>&a;</loc></url></urlset>"
    )
    with pytest.raises(NotAFeed, match="refused"):
        parse_sitemap(bomb, "https://a.example/s", "a", "ar", 1_000_000)


def test_feed_parsing_refuses_entities_and_non_feeds() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x"><!ENTITY b "&a;&a;">]>'
        b"<rss><channel><title>&b;</title></channel></rss>"
    )
    with pytest.raises(NotAFeed, match="entities"):
        parse_feed(bomb, "https://a.example/rss", "a", "ar", 10)
    with pytest.raises(NotAFeed, match="not a feed"):
        parse_feed(b"<html><body>hi</body></html>", "https://a.example/rss", "a", "ar", 10)
    atom = b'\xef\xbb\xbf<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    assert sniff(atom) == "atom"


def test_feed_links_from_a_homepage() -> None:
    html = (
        '<html><head><base href="https://a.example/ar/">'
        '<link rel="alternate" type="application/rss+xml" href="rss.xml">'
        '<link rel="alternate stylesheet" type="text/css" href="x.css">'
        '<link rel="alternate" type="application/atom+xml" href="https://a.example/atom">'
        '<link rel="alternate" hreflang="en" href="https://a.example/en/"></head></html>'
    )
    assert discover_feed_links(html, "https://a.example/") == [
        "https://a.example/ar/rss.xml",
        "https://a.example/atom",
    ]


def test_window_counts_undated_items() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    week = timedelta(days=7)
    assert within_window(None, now, week)
    assert within_window(now - timedelta(days=6), now, week)
    assert not within_window(now - timedelta(days=8), now, week)
    assert within_window(now - timedelta(days=800), now, None)


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS])
def test_deflate_with_and_without_zlib_header(wbits: int) -> None:
    c = zlib.compressobj(6, zlib.DEFLATED, wbits)
    data = c.compress(b"<html>" * 1000) + c.flush()
    inflater = Inflater("deflate", 1_000_000)
    assert b"".join(inflater.feed(data)) == b"<html>" * 1000
    inflater.finish()


def test_inflater_never_yields_much_past_the_limit() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    inflater = Inflater("gzip", 1_000_000)
    got = 0
    with pytest.raises(FetchError, match="gzip bomb"):
        for piece in inflater.feed(bomb):
            got += len(piece)
            assert len(piece) <= 65_536
    assert got <= 1_000_000


def test_state_store_flags_validators_that_lie(tmp_path: Path) -> None:
    with StateStore.for_output(tmp_path) as st:
        assert not st.record_full("https://a/rss", '"v1"', None, b"one")
        assert not st.record_full("https://a/rss", '"v1"', None, b"one")  # same bytes: honest
        assert not st.record_full("https://a/rss", '"v2"', None, b"two")  # new tag, new bytes
        assert st.record_full("https://a/rss", '"v2"', None, b"three")  # same tag, new bytes
        assert st.validators("https://a/rss").unreliable
    with StateStore.for_output(tmp_path) as st:  # it persists
        assert st.validators("https://a/rss").unreliable


def test_warc_writer_leaves_no_file_on_an_empty_batch_and_hides_the_temp(tmp_path: Path) -> None:
    w = WarcWriter(tmp_path, "r1", "00000")
    w.write(
        url="https://a.example/x?utm_source=y",
        final_url="https://a.example/x",
        status=200,
        reason="OK",
        request_headers={"User-Agent": "marsad"},
        headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
        body=b"<html>\xd8\xb3</html>",
        fetched_at=datetime(2026, 11, 29, 1, 2, 3, 456789, tzinfo=UTC),
        source="a",
    )
    assert list(iter_responses(tmp_path)) == []  # still a temporary file: invisible
    w.close()
    (rec,) = iter_responses(tmp_path)
    assert rec.url == "https://a.example/x?utm_source=y" and rec.final_url == "https://a.example/x"
    assert rec.body == b"<html>\xd8\xb3</html>"  # stored decoded; the encoding header moved aside
    assert "content-encoding" not in rec.headers and rec.headers["content-type"] == "text/html"
    assert rec.fetched_at == datetime(2026, 11, 29, 1, 2, 3, 456789, tzinfo=UTC)
    assert (rec.source, rec.run_id, rec.status) == ("a", "r1", 200)
    empty = WarcWriter(tmp_path, "r2")
    assert empty.close() is None
    assert len(list((tmp_path / "raw").iterdir())) == 1


def test_feed_item_fields_survive_the_retry_queue(tmp_path: Path) -> None:
    item = FeedItem("https://a/x", "a", "عنوان", datetime(2026, 11, 28, tzinfo=UTC), "ar")
    with StateStore.for_output(tmp_path) as st:
        q = st.queue_retry(item, 3, "timeout", max_runs=3)
        assert (q.attempts, q.runs, q.quarantined) == (3, 1, False)
        assert st.queued()[0].item == item


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip, gzip"])
def test_encodings_we_cannot_bound_are_refused(coding: str) -> None:
    import httpx

    from marsad.fetch.body import content_encoding

    with pytest.raises(FetchError, match="unsupported content-encoding"):
        content_encoding(httpx.Headers({"Content-Encoding": coding}))
    assert content_encoding(httpx.Headers({"Content-Encoding": "identity"})) == ""
