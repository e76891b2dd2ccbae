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
