from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from marsad.charset import decode, detect_encoding
from marsad.extract import (
    FALLBACK_BELOW_CHARS,
    ExtractError,
    apply_extraction,
    canonicalise,
    clean_text,
    date_from_url,
    extract_articles,
    extract_html,
    extract_text,
    parse_date,
    plausible,
)
from marsad.record import Article, FeedItem

DEMO = Path(__file__).resolve().parents[1] / "seeds" / "demo" / "articles"
SEED_TITLE = "بغداد تنسّق مع «الناتو» لمحاربة «داعش»"


def _seed_page_cp1256() -> bytes:
    return (DEMO / "baghdad-nato.cp1256.html").read_text(encoding="utf-8").encode("cp1256")


def _body_paragraphs(page: str) -> list[str]:
    body = page.split('<div class="article-body">', 1)[1].split("</div>", 1)[0]
    return [re.sub(r"\s+", " ", p) for p in re.findall(r"<p>(.*?)</p>", body, re.S)]


def test_seed_page_in_windows_1256_keeps_title_and_every_paragraph() -> None:
    raw = _seed_page_cp1256()
    assert detect_encoding(raw, "text/html") == "windows-1256"  # the meta tag, header silent
    html = decode(raw, "text/html")
    ex = extract_html(html, "http://example.test/articles/baghdad-nato")
    assert ex.title == SEED_TITLE
    paragraphs = _body_paragraphs(html)
    assert len(paragraphs) >= 5
    for para in paragraphs:
        assert para in ex.text
    assert ex.language == "ar"
    assert ex.published_at == datetime(2020, 6, 22, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "boilerplate",
    [
        "news-picture",
        "مشاركة",
        "فيسبوك",
        "اقرأ أيضاً",
        "الأكثر قراءة",
        "أبو علي",
        "جميع الحقوق محفوظة",
        "تسجيل الدخول",
        "6/23/2020",
        "النشرة البريدية",
    ],
)
def test_seed_page_boilerplate_is_gone(boilerplate: str) -> None:
    ex = extract_html(decode(_seed_page_cp1256(), "text/html"))
    assert boilerplate not in ex.text


def test_counters_do_not_survive_as_lines() -> None:
    ex = extract_html(decode(_seed_page_cp1256(), "text/html"))
    for line in ex.text.splitlines():
        assert not re.fullmatch(r"[\d:/ ]+", line), line


def test_undeclared_windows_1256_is_detected() -> None:
    raw = (DEMO / "gulf-summit.cp1256.html").read_text(encoding="utf-8").encode("cp1256")
    assert b"charset" not in raw.lower()
    ex = extract_html(decode(raw, "text/html"))
    assert "الدوحة" in ex.text


def test_header_charset_beats_meta() -> None:
    raw = '<html><head><meta charset="windows-1256"></head><body>é</body></html>'.encode()
    assert detect_encoding(raw, "text/html; charset=UTF-8") == "utf-8"


def test_empty_page_is_an_extract_error() -> None:
    with pytest.raises(ExtractError):
        extract_html("<html><body><nav>home</nav></body></html>")


@pytest.mark.parametrize("html", ["", "\x00", "\ud800<p>x</p>", "<" * 5000, "<div>" * 3000])
def test_hostile_markup_is_an_extract_error_not_a_crash(html: str) -> None:
    with pytest.raises(ExtractError):
        extract_html(html, "http://[::1/")


def test_extract_articles_keeps_going_after_a_failure() -> None:
    good = _article_record("https://news.example/article/1", None)
    good.html = _article(_BODY)
    empty = _article_record("https://news.example/article/2", None)
    done, failures = extract_articles([empty, good])
    assert done == [good] and good.text and good.html is None
    assert [(f.url, f.stage, f.error) for f in failures] == [
        ("https://news.example/article/2", "extract", "not parseable as HTML")
    ]


def test_a_canonical_link_that_does_not_parse_is_ignored() -> None:
    meta = (
        '<link rel="canonical" href="http://[::1/x"><meta property="og:url" content="http://[::1/">'
    )
    url = "https://news.example/article/80"
    ex = extract_html(_article(_BODY, meta), url)
    art = apply_extraction(_article_record(url, None), ex)
    assert art.canonical_url == url


def test_clean_text_drops_furniture_lines() -> None:
    text = "news-picture\n2\n00:00\n6/23/2020\nمشاركة :\nنص حقيقي من المقال."
    assert clean_text(text) == "نص حقيقي من المقال."


def test_parse_date_keeps_time_and_converts_to_utc() -> None:
    assert parse_date("2020-06-23T00:00:00+0300") == datetime(2020, 6, 22, 21, tzinfo=UTC)
    assert parse_date("2020-06-23") == datetime(2020, 6, 23, tzinfo=UTC)
    assert parse_date("not a date") is None


def test_canonicalise_strips_tracking_and_fragment() -> None:
    assert canonicalise("HTTP://Example.COM/a?utm_source=x&id=3#top") == "http://example.com/a?id=3"


# --- fallback chain, boilerplate lead-ins, dates (pages written here, not copied) -----------

_SENTENCES = " ".join(
    f"هذه الجملة رقم {i} من نص المقال الكامل الذي لا يظهر إلا في البيانات المنظمة."
    for i in range(12)
)


def _page(head: str = "", body: str = "") -> str:
    return (
        f"<html><head><title>عنوان المقال</title>{head}</head><body>"
        '<nav><a href="/">الرئيسية</a> <a href="/world">العالم</a></nav>'
        f"{body}</body></html>"
    )


def _article(paragraphs: list[str], meta: str = "") -> str:
    ps = "".join(f"<p>{p}</p>" for p in paragraphs)
    return _page(meta, f"<article><h1>عنوان المقال</h1>{ps}</article><footer>© الموقع</footer>")


def test_fallback_chain_keeps_the_longer_second_pass() -> None:
    """A script-rendered page: the precision pass sees only the teaser, the default pass
    rescues the body from JSON-LD; the chain must return the body."""
    ld = json.dumps({"@type": "NewsArticle", "articleBody": _SENTENCES}, ensure_ascii=False)
    html = _page(
        f'<script type="application/ld+json">{ld}</script>',
        '<div id="app"><h1>عنوان المقال</h1><p>مقدمة قصيرة تظهر قبل تحميل الصفحة.</p></div>',
    )
    ex = extract_html(html, "https://news.example/a/1")
    assert "الجملة رقم 11" in ex.text
    assert len(ex.text) >= len(_SENTENCES) * 0.9


def test_long_precision_output_is_kept_without_a_second_pass() -> None:
    paras = [f"فقرة طويلة رقم {i} " + "كلام من صلب الخبر " * 12 for i in range(12)]
    html = _article(paras)
    ex = extract_html(html)
    assert len(ex.text) >= FALLBACK_BELOW_CHARS
    for p in paras:
        assert p.strip() in ex.text


def test_teaser_lead_ins_and_credits_are_dropped() -> None:
    text = "\n".join(
        [
            "نص الخبر الأول.",
            "اقرأ أيضاً: عنوان خبر آخر لا علاقة له",
            "Read more: Another story",
            "© 2024 وكالة الأنباء",
            "مواضيع ذات صلة",
            "نص الخبر الثاني يذكر القراءة في وسطه: اقرأ أيضاً.",
        ]
    )
    assert clean_text(text) == "نص الخبر الأول.\nنص الخبر الثاني يذكر القراءة في وسطه: اقرأ أيضاً."


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.youm7.example/story/2020/8/24/some-title/4943459", date(2020, 8, 24)),
        ("https://www.albayan.example/news/2020-06-03-1.3874341", date(2020, 6, 3)),
        ("https://sputnik.example/arab_world/202003171044893040-title/", date(2020, 3, 17)),
        ("https://www.observer.example/2020/11/2338761/", None),  # no day: not a date
        ("https://site.example/2020/13/40/title", None),  # not a calendar date
        ("https://site.example/article/825076-title", None),
        ("https://site.example/a?d=2020/01/02", None),  # the query is not the path
    ],
)
def test_date_from_url(url: str, expected: date | None) -> None:
    got = date_from_url(url)
    assert (got.date() if got else None) == expected


def test_future_dates_are_refused() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    assert plausible(datetime(2026, 1, 10, 20, tzinfo=UTC), now) is not None  # clock skew
    assert plausible(datetime(2026, 1, 12, tzinfo=UTC), now) is None
    assert plausible(None, now) is None


def _meta_date(iso: str) -> str:
    return f'<meta property="article:published_time" content="{iso}">'


_BODY = [f"فقرة رقم {i} من الخبر، فيها ما يكفي من الكلام ليعدّ نصاً رئيسياً." for i in range(6)]


@pytest.mark.parametrize("day", ["2098-03-17", "2098-03-01"])
def test_a_future_page_date_comes_back_whole_for_plausible_to_refuse(day: str) -> None:
    """htmldate cut a date after its max_date to the 1st of its month, which passed as
    plausible on the 1st (a page dated 31 December read as 1 December): whatever the
    calendar says today, the page's own date must come back whole, then be refused."""
    html = _article(_BODY, _meta_date(f"{day}T10:30:00+00:00"))
    meta, _ = extract_text(html, "https://news.example/2021/05/06/title")
    assert meta.date is not None and meta.date.startswith(f"{day}T10:30:00")
    ex = extract_html(html, "https://news.example/2021/05/06/title")
    assert (ex.published_at, ex.date_source) == (datetime(2021, 5, 6, tzinfo=UTC), "url")


def test_page_date_in_the_future_falls_back_to_the_url_date() -> None:
    future = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    html = _article(_BODY, _meta_date(future))
    ex = extract_html(html, "https://news.example/2021/05/06/title")
    assert ex.published_at == datetime(2021, 5, 6, tzinfo=UTC)
    assert ex.date_source == "url"


def test_structured_page_date_is_kept_with_its_time() -> None:
    html = _article(_BODY, _meta_date("2021-05-06T10:30:00+03:00"))
    ex = extract_html(html, "https://news.example/2021/05/07/title")
    assert ex.published_at == datetime(2021, 5, 6, 7, 30, tzinfo=UTC)
    assert ex.date_source == "page"


def _article_record(url: str, feed_date: datetime | None) -> Article:
    feed = FeedItem(url=url, source="s", feed_published_at=feed_date)
    return Article(url=url, source="s", fetched_at=datetime.now(UTC), feed=feed)


def test_feed_date_beats_a_guess_but_not_the_page() -> None:
    feed_date = datetime(2021, 5, 1, 8, tzinfo=UTC)
    # No metadata, no date in the URL, a copyright year in the footer: only a guess.
    html = _page(
        body="<article><h1>عنوان</h1>"
        + "".join(f"<p>{p}</p>" for p in _BODY)
        + "</article><footer>© 2019 الموقع</footer>"
    )
    url = "https://news.example/article/77"
    ex = extract_html(html, url)
    assert ex.date_source == "guess"
    assert ex.published_at == datetime(2019, 1, 1, tzinfo=UTC)  # better than nothing, alone
    art = apply_extraction(_article_record(url, feed_date), ex)
    assert art.published_at == feed_date
    paged = extract_html(_article(_BODY, _meta_date("2021-04-30T09:00:00+00:00")), url)
    art = apply_extraction(_article_record(url, feed_date), paged)
    assert art.published_at == datetime(2021, 4, 30, 9, tzinfo=UTC)


def test_future_feed_date_is_refused_too() -> None:
    url = "https://news.example/article/78"
    undated = "<article>" + "".join(f"<p>{p}</p>" for p in _BODY) + "</article>"
    ex = extract_html(_page(body=undated), url)
    assert ex.published_at is None
    future = datetime.now(UTC) + timedelta(days=400)
    art = apply_extraction(_article_record(url, future), ex)
    assert art.published_at is None


def test_no_guess_is_made_when_the_feed_has_a_date() -> None:
    url = "https://news.example/article/79"
    html = _page(
        body="<article>"
        + "".join(f"<p>{p}</p>" for p in _BODY)
        + "</article><footer>© 2019 الموقع</footer>"
    )
    feed_date = datetime(2021, 5, 1, 8, tzinfo=UTC)
    ex = extract_html(html, url, feed_date)
    assert ex.published_at is None and ex.date_source is None
    assert apply_extraction(_article_record(url, feed_date), ex).published_at == feed_date
    assert extract_html(html, url).date_source == "guess"  # without a feed date it guesses


_META_PAGE = """<html lang="ar"><head><title>عنوان الصفحة | موقع</title>
<link rel="canonical" href="/news/2024/03/05/story"/>
<meta property="og:url" content="https://example.org/news/2024/03/05/story"/>
<meta property="og:title" content="عنوان الخبر"/>
<script type="application/ld+json">{"@type": "NewsArticle", "headline": "عنوان الخبر",
 "datePublished": "2024-03-05T10:20:00+03:00"}</script></head>
<body><article><p class="byline">بقلم: سارة المنصوري</p><h1>عنوان الخبر</h1>
<p>فقرة أولى من نص الخبر تكفي لاستخراج النص الرئيسي من الصفحة.</p></article></body></html>"""


@pytest.mark.parametrize("name", [p.name for p in sorted(DEMO.glob("*.html"))] + ["meta"])
def test_page_metadata_matches_trafilaturas(name: str) -> None:
    """Our lean copy of extract_metadata must keep giving trafilatura's title/author/url/date."""
    from trafilatura.metadata import extract_metadata
    from trafilatura.utils import load_html

    from marsad.extract import _DATE_PARAMS, page_metadata

    if name == "meta":
        html = _META_PAGE
    else:
        raw = (DEMO / name).read_bytes()
        html = decode(raw.decode("utf-8").encode("cp1256") if ".cp1256." in name else raw)
    url = f"https://example.org/{name}"
    want = extract_metadata(html, url, dict(_DATE_PARAMS))
    got = page_metadata(load_html(html), url)
    fields = ("title", "author", "url", "date")
    assert [getattr(got, f) for f in fields] == [getattr(want, f) for f in fields]
    assert got.title


def test_byline_words_leave_the_author() -> None:
    from marsad.extract import clean_author

    assert clean_author("بقلم سارة المنصوري") == "سارة المنصوري"
    assert clean_author("كتب: أحمد علي") == "أحمد علي"
    assert clean_author("By Jane Doe") == "Jane Doe"
    assert clean_author("كتبي الصغير") == "كتبي الصغير"  # a name that starts like a byline word
    assert clean_author("بقلم") is None and clean_author(None) is None
    html = _META_PAGE.replace("<p>فقرة", "<p>" + "فقرة طويلة من النص. " * 10 + "</p><p>فقرة")
    assert extract_html(html, "https://example.org/x").author == "سارة المنصوري"
