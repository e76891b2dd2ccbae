"""No input can stop a run: extraction and the whole CPU chain (process_batch), fuzzed.

Pages are arbitrary strings, and pages built from random metadata, meta charsets, URLs and
Arabic-ish text encoded in random web encodings (then decoded as the fetch stage does), so
the fuzzer gets into trafilatura, htmldate, the normaliser and the tagger rather than
stopping at "not parseable". Derandomized; MARSAD_FUZZ_SCALE=20 runs twenty times as many.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime
from html import escape

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from marsad.charset import decode
from marsad.extract import ExtractError, extract_articles, extract_html
from marsad.process import process_batch
from marsad.record import Article, Failure, FeedItem
from marsad.settings import Settings
from marsad.text.arabic import normalise_articles

SCALE = int(os.environ.get("MARSAD_FUZZ_SCALE", "1"))
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(n: int) -> settings:
    return settings(FUZZ, max_examples=n * SCALE)


ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأإؤئىة"
ALPHABET = st.sampled_from(ARABIC_LETTERS + "ًٌٍَُِّْـ٠١٢٣ 0123456789abcXYZ.,،؛؟!«»()-:/\n\t")
WORDISH = st.text(ALPHABET, max_size=80)
WORD = st.one_of(
    st.text(st.sampled_from(ARABIC_LETTERS), min_size=2, max_size=8),
    st.sampled_from(["بغداد", "الدوحة", "محمد", "الأمم المتحدة", "وزير", "قال", "«داعش»", "2024"]),
    WORDISH,
)
PARAGRAPH = st.lists(WORD, min_size=4, max_size=40).map(" ".join)
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=200)  # surrogates, NULs too
URLS = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda scheme, host, path: f"{scheme}{host}/{path}",
        st.sampled_from(["http://", "https://", "", "//"]),
        st.sampled_from(["news.example", "www.news.example", "[::1", "a.test:99999", "]", ""]),
        st.text(max_size=15),
    ),
)
DATES = st.one_of(
    st.text(max_size=25),
    st.sampled_from(["2021-05-06T10:30:00+03:00", "0001-01-01T00:00:00+05:00", "9999-12-31"]),
    st.sampled_from(["2099-01-01", "1970-01-01T00:00:00Z", "2020-02-30", "٢٠٢٠-٠١-٠١"]),
)
LABELS = st.sampled_from(
    [
        *("utf-8", "windows-1256", "iso-8859-6", "hex", "utf-7", "rot13", "utf-16"),
        *("x-user-defined", "iso-2022-kr", "zlib", "", "bogus", "UTF-8 ", "cp1256", "koi8-r"),
        *("gbk", "shift_jis"),
    ]
)


@st.composite
def article_page(draw: st.DrawFn) -> str:
    """A news page with random metadata and body, sometimes with a raw (unescaped) field."""
    raw = draw(st.booleans())

    def field(s: str) -> str:
        return s if raw else escape(s)

    ld = json.dumps(
        {"@type": "NewsArticle", "headline": draw(WORDISH), "datePublished": draw(DATES)},
        ensure_ascii=False,
    )
    head = (
        f'<meta charset="{draw(LABELS)}"><title>{field(draw(WORDISH))}</title>'
        f'<link rel="canonical" href="{field(draw(URLS))}">'
        f'<meta property="og:url" content="{field(draw(URLS))}">'
        f'<meta property="article:published_time" content="{field(draw(DATES))}">'
        f'<meta name="author" content="{field(draw(WORDISH))}">'
        f'<script type="application/ld+json">{ld if raw else draw(WORDISH)}</script>'
    )
    paras = draw(st.lists(PARAGRAPH, max_size=6))
    body = "".join(f"<p>{field(p)}</p>" for p in paras)
    tail = draw(st.sampled_from(["", "</div></div>", "<table><tr><td>", draw(WORDISH)]))
    return f"<html><head>{head}</head><body><article><h1>t</h1>{body}</article>{tail}</body></html>"


@st.composite
def fetched_page(draw: st.DrawFn) -> str:
    """A page as the fetch stage hands it on: bytes in some encoding, decoded by charset."""
    html = draw(article_page())
    codec = draw(st.sampled_from(["utf-8", "cp1256", "iso8859_6", "utf-16-le", "latin-1"]))
    body = html.encode(codec, "replace")
    ctype = draw(st.one_of(st.none(), LABELS.map(lambda label: f"text/html; charset={label}")))
    return decode(body, ctype)


PAGES = st.one_of(article_page(), fetched_page(), ANY_TEXT)


@fuzz(80)
@given(PAGES, st.one_of(st.none(), URLS))
def test_extract_html_raises_only_extract_error(html: str, url: str | None) -> None:
    try:
        ex = extract_html(html, url)
    except ExtractError as exc:
        event(f"ExtractError: {str(exc).split(' (')[0]}")
        return
    event("extracted")
    assert isinstance(ex.text, str) and ex.text
    assert ex.published_at is None or ex.published_at.tzinfo is not None


def _article(url: str, html: str | None, feed_date: datetime | None) -> Article:
    feed = FeedItem(url=url, source="src", feed_published_at=feed_date)
    return Article(url=url, source="src", fetched_at=datetime.now(UTC), html=html, feed=feed)


ARTICLES = st.lists(
    st.builds(
        _article,
        URLS,
        st.one_of(st.none(), PAGES),
        st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    ),
    min_size=1,
    max_size=3,
)


def _ends_once(articles: list[Article], done: list[Article], failed_urls: list[str]) -> None:
    """Every input article ends as exactly one done article or exactly one failure row."""
    done_ids = Counter(id(a) for a in done)
    assert all(n == 1 for n in done_ids.values())
    assert set(done_ids) <= {id(a) for a in articles}
    rest = Counter(a.url for a in articles if id(a) not in done_ids)
    assert Counter(failed_urls) == rest


@fuzz(60)
@given(ARTICLES)
def test_extract_articles_ends_every_article_once(articles: list[Article]) -> None:
    done, failures = extract_articles(articles)
    _ends_once(articles, done, [f.url for f in failures])
    assert {f.stage for f in failures} <= {"extract"}
    assert all(f.error for f in failures)


@fuzz(25)
@given(ARTICLES)
def test_process_batch_ends_every_article_tagged_or_failed(articles: list[Article]) -> None:
    done, failures = process_batch(articles, Settings())
    event(f"tagged {len(done)} of {len(articles)}")
    _ends_once(articles, done, [f.url for f in failures])
    assert {f.stage for f in failures} <= {"extract", "normalise", "tag"}
    for art in done:
        assert art.text and art.text_norm is not None
        for ent in art.entities:
            assert art.text[ent.start : ent.end] == ent.text


def test_one_article_that_fails_anywhere_costs_only_its_row() -> None:
    page = (
        "<html><head><title>عنوان</title></head><body><article>"
        + "<p>فقرة من نص الخبر فيها ما يكفي من الكلام ليعد نصا رئيسيا في الصفحة.</p>" * 4
        + "</article></body></html>"
    )
    odd_url = _article("http://[::1/a", page, None)  # urlsplit raises on it: still extracted
    no_html = _article("https://news.example/empty", None, None)
    poisoned = _article("https://news.example/poisoned", page, None)
    poisoned.feed = "not a FeedItem"  # type: ignore[assignment]  # what a buggy stage could do
    good = _article("https://news.example/good", page, None)
    done, failures = process_batch([odd_url, no_html, poisoned, good], Settings())
    assert done == [odd_url, good]
    assert odd_url.canonical_url == "http://[::1/a" and odd_url.text_norm
    reasons = {f.url: (f.stage, f.error) for f in failures}
    assert reasons == {
        "https://news.example/empty": ("extract", "not parseable as HTML"),
        "https://news.example/poisoned": (
            "extract",
            "AttributeError: 'str' object has no attribute 'feed_published_at'",
        ),
    }


def test_normalise_articles_turns_one_articles_exception_into_its_failure() -> None:
    good = _article("https://news.example/1", None, None)
    good.text = "نص الخبر"
    broken = _article("https://news.example/2", None, None)
    broken.text = b"not text"  # type: ignore[assignment]  # what a buggy stage could hand on
    failures: list[Failure] = []
    done = normalise_articles([broken, good], "aggressive", failures)
    assert done == [good] and good.text_norm == "نص الخبر"
    assert [(f.url, f.stage) for f in failures] == [("https://news.example/2", "normalise")]
    assert failures[0].error.startswith("TypeError")
    with pytest.raises(TypeError):  # without a list, the old contract: the error propagates
        normalise_articles([broken], "aggressive")
