"""Typed failures: each failure says what its URL was (article, feed, sitemap, homepage), the
`failures` dataset stores it, files from before the column still read, and retry-failures
plans by it (falling back to the error's prefix for those older rows)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from faultcore import loopback
from storefactory import failure, write_old_version

from marsad.dataset import read_dataset
from marsad.demo import serve_directory
from marsad.fetch.discovery import discover_all
from marsad.flows.params import DateWindow
from marsad.flows.retry_failures import plan_retry, read_failures
from marsad.record import KINDS, Failure
from marsad.schema import FAILURES, SCHEMA_VERSION, description
from marsad.settings import Settings
from marsad.sources import Source
from marsad.store import write_failures

FAST = Settings(
    allow_private_networks=True,
    per_host_delay_s=0.0,
    backoff_base_s=0.01,
    max_attempts=1,
    timeout_s=2.0,
)
AT = datetime(2026, 1, 3, tzinfo=UTC)


def test_failure_kind_defaults_to_article_and_is_validated() -> None:
    positional = Failure("http://x/1", "s", "fetch", "HTTP 404", 1, "r1", AT)
    assert positional.kind == "article"
    assert Failure("http://x/f", "s", "fetch", "HTTP 404", 1, "r1", AT, "feed").kind == "feed"
    assert set(KINDS) == {"article", "feed", "sitemap", "homepage", "robots"}
    with pytest.raises(ValueError, match="unknown failure kind 'rss'"):
        Failure("http://x/1", "s", "fetch", "HTTP 404", 1, "r1", AT, "rss")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown stage"):
        Failure("http://x/1", "s", "fetching", "HTTP 404", 1, "r1", AT)


class _Unavailable(BaseHTTPRequestHandler):
    """A host in an outage: everything, robots.txt included, answers 503."""

    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def down() -> Iterator[str]:
    with loopback(_Unavailable) as base:
        yield base


def test_discovery_failures_carry_the_kind_of_their_url(tmp_path: Path, down: str) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        "<html><body><p>no feed link here</p></body></html>", encoding="utf-8"
    )
    with serve_directory(site) as base:
        sources = [
            Source(name="bare", homepage=f"{base}/index.html"),
            Source(
                name="gone",
                feeds=[f"{base}/missing-feed.xml", f"{base}/index.html"],  # 404; not a feed
                sitemaps=[f"{base}/missing-sitemap.xml"],
            ),
            # robots.txt unreadable (503): the feed, sitemap and homepage it guards fail,
            # each as what it is; robots.txt itself is never a failure row
            Source(
                name="down",
                feeds=[f"{down}/feed.xml"],
                sitemaps=[f"{down}/sitemap.xml"],
                homepage=f"{down}/",
            ),
        ]
        found = asyncio.run(discover_all(sources, FAST, "run-1", None))
    got = {
        (f.source, f.url.rsplit("/", 1)[-1], f.kind, f.error.split(":", 1)[0])
        for f in found.failures
    }
    assert got == {
        ("bare", "index.html", "homepage", "homepage"),  # no feed link and no sitemap
        ("gone", "missing-feed.xml", "feed", "feed"),
        ("gone", "index.html", "feed", "feed"),
        ("gone", "missing-sitemap.xml", "sitemap", "sitemap"),
        ("down", "feed.xml", "feed", "feed"),
        ("down", "sitemap.xml", "sitemap", "sitemap"),
        ("down", "", "homepage", "homepage"),
    }
    down_errors = [f.error for f in found.failures if f.source == "down"]
    assert all("robots.txt unavailable (HTTP 503)" in e for e in down_errors), down_errors
    assert not any(f.url.endswith("/robots.txt") for f in found.failures)


def test_the_writer_stores_the_kind_as_the_last_column(tmp_path: Path) -> None:
    (path,) = write_failures(
        [failure("http://x/a"), failure("http://x/f", kind="feed", error="feed: HTTP 404")],
        tmp_path,
        "r1",
        0,
    )
    pf = pq.ParquetFile(path)
    assert pf.schema_arrow.names == [*FAILURES.names]
    assert FAILURES.names[-1] == "kind"
    assert pf.schema_arrow.metadata[b"marsad.schema_version"] == SCHEMA_VERSION.encode() == b"6"
    assert pf.schema_arrow.field("kind").metadata[b"description"].decode() == description(
        FAILURES.field("kind")
    )
    rows = read_dataset(tmp_path, "failures", ["url", "kind"]).to_pylist()
    assert sorted((r["url"], r["kind"]) for r in rows) == [
        ("http://x/a", "article"),
        ("http://x/f", "feed"),
    ]


def _v2_failures(path: Path, rows: list[Failure]) -> None:
    """A failures file as schema version 2 wrote it: no `kind` column."""
    from marsad.writer import failure_rows

    write_old_version(path, FAILURES, failure_rows(rows), "kind", "2")


def test_failures_files_without_kind_still_read(tmp_path: Path) -> None:
    legacy = [
        failure("http://old/feed.xml", error="feed: HTTP 500", run_id="r0"),
        failure("http://old/article.html", error="HTTP 404", run_id="r0"),
    ]
    _v2_failures(tmp_path / "failures/date=2026-01-03/part-r0-00000.parquet", legacy)
    assert (
        "kind"
        not in pq.read_schema(tmp_path / "failures/date=2026-01-03/part-r0-00000.parquet").names
    )
    write_failures(
        [
            failure("http://new/sitemap.xml", kind="sitemap", error="sitemap: HTTP 404"),
            failure("http://new/article.html"),
        ],
        tmp_path,
        "r1",
        0,
    )
    glob = f"{tmp_path}/failures/**/*.parquet"

    df = pl.scan_parquet(
        glob,
        hive_partitioning=True,
        schema=pl.Schema(pl.from_arrow(FAILURES.empty_table()).schema),
        missing_columns="insert",
        extra_columns="ignore",
    ).collect()
    assert df.height == 4
    kinds = dict(zip(df["url"], df["kind"], strict=True))
    assert kinds == {
        "http://old/feed.xml": None,
        "http://old/article.html": None,
        "http://new/sitemap.xml": "sitemap",
        "http://new/article.html": "article",
    }
    n, typed = duckdb.sql(
        f"select count(*), count(kind) from read_parquet('{glob}', "
        "hive_partitioning=true, union_by_name=true)"
    ).fetchall()[0]
    assert (n, typed) == (4, 2)

    table = read_dataset(tmp_path, "failures")
    assert table.schema.names == [*FAILURES.names, "date"]
    assert dict(zip(table["url"].to_pylist(), table["kind"].to_pylist(), strict=True)) == kinds

    # retry-failures reads both: the legacy feed by its error prefix, the rest by kind
    window = DateWindow(since=datetime(2026, 1, 1, tzinfo=UTC))
    plan = plan_retry(read_failures(str(tmp_path), None, window))
    assert sorted(i.url for i in plan.items) == [
        "http://new/article.html",
        "http://old/article.html",
    ]
    assert [(s.name, s.feeds, s.sitemaps) for s in plan.sources] == [
        ("s", ["http://old/feed.xml"], ["http://new/sitemap.xml"])
    ]


def test_plan_retry_goes_by_kind_and_falls_back_to_the_prefix_for_old_rows() -> None:
    rows = [
        ("http://a/feed.xml", "feed", "HTTP 404"),  # no prefix: the kind says it all
        ("http://a/sitemap.xml", "sitemap", "sitemap: not a sitemap"),
        ("http://a/", "homepage", "homepage: no feed link and no sitemap in robots.txt"),
        ("http://a/page.html", "article", "feed: a page whose error reads like a feed's"),
        ("http://a/robots.txt", "robots", "robots.txt unavailable (HTTP 503)"),
        ("http://a/old-feed.xml", None, "feed: HTTP 500"),  # before schema version 3
        ("http://a/old-page.html", None, "not HTML: image/png"),
    ]
    frame = pl.DataFrame(
        {
            "url": [u for u, _k, _e in rows],
            "source": ["a"] * len(rows),
            "error": [e for _u, _k, e in rows],
            "kind": [k for _u, k, _e in rows],
            "at": [AT] * len(rows),
        },
        schema_overrides={"kind": pl.String},
    )
    plan = plan_retry(frame)
    assert [i.url for i in plan.items] == ["http://a/page.html", "http://a/old-page.html"]
    assert [(s.name, s.feeds, s.sitemaps, s.homepage) for s in plan.sources] == [
        ("a", ["http://a/feed.xml", "http://a/old-feed.xml"], ["http://a/sitemap.xml"], "http://a/")
    ]
