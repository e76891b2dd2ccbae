"""The run summary: counts per source, a totals row, failure reasons people can read."""

from __future__ import annotations

from datetime import UTC, datetime

from marsad.budget import RUN_BUDGET
from marsad.record import Failure
from marsad.summary import RunSummary

AT = datetime(2026, 11, 30, tzinfo=UTC)
LONG_URL = "http://example.org/" + "a" * 120


def failure(source: str, error: str) -> Failure:
    return Failure(f"http://{source}/x", source, "fetch", error, 1, "r", AT)


def summary() -> RunSummary:
    s = RunSummary("r")
    s.add("stored", {"a": 3, "b": 1})
    s.add_failures(
        [failure("a", "HTTP 404"), failure("b", RUN_BUDGET), failure("b", f"bad {LONG_URL}")]
    )
    return s


def test_deferred_urls_are_counted_apart_from_failures() -> None:
    s = summary()
    assert (s.total("failed"), s.total("deferred")) == (2, 1)
    assert s.outcome() == "stored 4, failed 2, deferred 1"


def test_the_artifact_table_ends_with_totals_and_its_reasons_wrap() -> None:
    rows = summary().rows(artifact=True)
    assert [r["source"] for r in rows] == ["a", "b", "total"]
    total = rows[-1]
    assert (total["stored"], total["failed"], total["deferred"]) == (4, 2, 1)
    assert "fetch: HTTP 404 ×1" in str(total["failure reasons"])
    reasons = str(rows[1]["failure reasons"])
    assert LONG_URL not in reasons  # broken into pieces a table cell can wrap at
    assert all(len(w) <= 40 for part in reasons.split() for w in part.split("\u200b"))
    # the terminal gets the URL whole (it would be copied from there), and no totals row
    plain = summary().rows()
    assert [r["source"] for r in plain] == ["a", "b"] and LONG_URL in str(plain[1])


def test_the_failures_markdown_lists_every_reason_escaped() -> None:
    s = RunSummary("r")
    s.add_failures([failure("a", "HTTP 500 | *bold* [x](y)")] * 2)
    md = s.failures_markdown()
    assert "## a" in md and "- ×2 fetch: HTTP 500 \\| \\*bold\\* \\[x\\](y)" in md
    assert "No failures in this run." in RunSummary("r").failures_markdown()


# --- RTL titles in the run-entities artifact (docs/decisions.md) -------------------------------


def _hit_summary(title: str, url: str = "http://news.test/a/1") -> RunSummary:
    from marsad.record import Article, Entity

    nato = Entity("الناتو", "الناتو", "ORG", 0, 6, "Q7184", "الناتو", "NATO")
    art = Article(url, "news", AT, title=title, article_id="a1", entities=[nato])
    s = RunSummary("r")
    s.add_entities([art])
    return s


def _rendered_cell(md: str) -> str:
    """The last cell of the watchlist table as a CommonMark renderer with raw HTML and
    tables (markdown-it, like the UI's micromark) renders it."""
    from markdown_it import MarkdownIt

    table = md.split("## Watchlist hits")[1]
    html = MarkdownIt("commonmark").enable("table").render(table)
    return html.split("<td>")[-1].split("</td>")[0]


def test_an_arabic_title_is_laid_out_right_to_left() -> None:
    title = "«الناتو» يجتمع في 3 عواصم؟"
    md = _hit_summary(title).markdown()
    assert "| الناتو | Q7184 | 1 | 1 |" in md  # the name cell stays plain text
    cell = _rendered_cell(md)
    assert cell == f'<div dir="rtl"><a href="http://news.test/a/1">\u2067{title}\u2069</a></div>'


def test_a_latin_title_or_a_bare_url_stays_as_it_was() -> None:
    cell = _rendered_cell(_hit_summary("NATO meets in 3 capitals").markdown())
    assert cell == '<a href="http://news.test/a/1">NATO meets in 3 capitals</a>'
    cell = _rendered_cell(_hit_summary("").markdown())
    assert cell == '<a href="http://news.test/a/1">http://news.test/a/1</a>'


def test_a_title_is_data_never_markup() -> None:
    title = 'عاجل <img src=x onerror="alert(1)"> [رابط](http://evil.test) a\\*b & c | d'
    md = _hit_summary(title).markdown()
    assert "<img" not in md and "[رابط](http://evil.test)" not in md
    cell = _rendered_cell(md)
    assert cell.count("<a ") == 1 and 'href="http://news.test/a/1"' in cell
    shown = "عاجل &lt;img src=x onerror=&quot;alert(1)&quot;&gt; [رابط](http://evil.test)"
    shown += " a\\*b &amp; c / d"
    assert f"\u2067{shown}\u2069</a></div>" in cell
