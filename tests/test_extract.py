from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from marsad.charset import decode, detect_encoding
from marsad.tasks.extract import ExtractError, canonicalise, clean_text, extract_html, parse_date

DEMO = Path(__file__).resolve().parents[1] / "seeds" / "demo" / "articles"
SEED_TITLE = "بغداد تنسّق مع «الناتو» لمحاربة «داعش»"


def _seed_page_cp1256() -> bytes:
    return (DEMO / "baghdad-nato.cp1256.html").read_text(encoding="utf-8").encode("cp1256")


def _body_paragraphs(page: str) -> list[str]:
    body = page.split('<div class="article-body">', 1)[1].split("</div>", 1)[0]
    return [re.sub(r"\s+", " ", p) for p in re.findall(r"<p>(.*?)</p>", body, re.S)]


def test_seed_page_in_windows_1256_keeps_title_and_every_paragraph() -> None:
    raw = _seed_page_cp1256()
    assert detect_encoding(raw, "text/html") == "cp1256"  # from the meta tag, header silent
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


def test_clean_text_drops_furniture_lines() -> None:
    text = "news-picture\n2\n00:00\n6/23/2020\nمشاركة :\nنص حقيقي من المقال."
    assert clean_text(text) == "نص حقيقي من المقال."


def test_parse_date_keeps_time_and_converts_to_utc() -> None:
    assert parse_date("2020-06-23T00:00:00+0300") == datetime(2020, 6, 22, 21, tzinfo=UTC)
    assert parse_date("2020-06-23") == datetime(2020, 6, 23, tzinfo=UTC)
    assert parse_date("not a date") is None


def test_canonicalise_strips_tracking_and_fragment() -> None:
    assert canonicalise("HTTP://Example.COM/a?utm_source=x&id=3#top") == "http://example.com/a?id=3"
