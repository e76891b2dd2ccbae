"""The operator flows (backfill, retry-failures, reprocess) against a copy of the demo site.

Each test starts from the output of one monitor run (made once per module, copied per test)
and reads what its flow wrote back with polars and DuckDB.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from marsad.demo import demo_root, serve_directory
from marsad.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

FAST = Settings(
    allow_private_networks=True, per_host_delay_s=0.0, backoff_base_s=0.01, batch_size=3
)
SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>{{BASE}}/articles/baghdad-nato.cp1256.html</loc><lastmod>2020-06-23</lastmod></url>
  <url><loc>{{BASE}}/articles/gulf-summit.cp1256.html</loc><lastmod>2024-03-01</lastmod></url>
  <url><loc>{{BASE}}/articles/football-final.html</loc><lastmod>2026-11-26T18:45:00Z</lastmod></url>
  <url><loc>{{BASE}}/articles/cairo-book-fair.html</loc><lastmod>2026-11-27</lastmod></url>
  <url><loc>{{BASE}}/articles/oil-prices.html</loc><lastmod>2026-11-28</lastmod></url>
</urlset>
"""
LATE_ARTICLE = """<!doctype html><html lang="ar"><head><meta charset="utf-8">
<title>افتتاح معرض للكتب المستعملة في بغداد</title>
<meta property="article:published_time" content="2026-11-28T10:00:00Z"></head><body>
<article><h1>افتتاح معرض للكتب المستعملة في بغداد</h1>
<p>افتتح في شارع المتنبي ببغداد صباح اليوم معرض للكتب المستعملة يشارك فيه أكثر من مئة بائع
من مختلف المحافظات العراقية، ويستمر المعرض أسبوعا كاملا.</p>
<p>وقال المنظمون إن المعرض يضم نحو عشرين ألف عنوان في الأدب والتاريخ والعلوم، وإن الأسعار
في متناول الطلاب، مشيرين إلى أن ريع الدورة سيخصص لترميم المكتبات المدرسية في المدينة.</p>
<p>ويعد شارع المتنبي من أقدم أسواق الكتب في العالم العربي، وقد استعاد نشاطه خلال السنوات
الأخيرة بعد أعمال إعادة التأهيل التي شملت واجهات المباني والمقاهي الثقافية المحيطة.</p>
</article></body></html>
"""


@dataclass
class Site:
    root: Path
    base: str
    sources: Path
    out: Path  # the monitor run's output: copy it, never write to it
    run_id: str


def _scan(out: Path) -> pl.DataFrame:
    return pl.scan_parquet(f"{out}/articles/**/*.parquet", hive_partitioning=True).collect()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Site]:
    from marsad.flows.monitor import monitor

    tmp = tmp_path_factory.mktemp("ops")
    root = tmp / "site"
    shutil.copytree(demo_root(), root)
    (root / "sitemap.tmpl.xml").write_text(SITEMAP, encoding="utf-8")
    with serve_directory(root) as base:
        sources = tmp / "sources.yaml"
        sources.write_text(
            "sources:\n"
            "  - name: demo\n"
            f"    feeds: [{base}/feed.tmpl.xml]\n"
            f"    urls: [{base}/articles/late.html, {base}/logo.png]\n"
            "  - name: late-feed\n"
            f"    feeds: [{base}/late-feed.tmpl.xml]\n",
            encoding="utf-8",
        )
        out = tmp / "out"
        result = monitor(sources=str(sources), out=str(out), settings=FAST)
        assert result["stored"] == 6
        yield Site(root, base, sources, out, str(result["run_id"]))


def _copy(site: Site, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(site.out, out)
    return out


def test_retry_failures_of_a_run(site: Site, tmp_path: Path) -> None:
    from marsad.flows.retry_failures import retry_failures

    out = _copy(site, tmp_path)
    before = pl.read_parquet(f"{out}/failures/**/*.parquet")
    assert set(before["url"].str.split("/").list.last()) == {
        "late.html",
        "logo.png",
        "late-feed.tmpl.xml",
    }
    kinds = dict(zip(before["url"].str.split("/").list.last(), before["kind"], strict=True))
    assert kinds == {"late.html": "article", "logo.png": "article", "late-feed.tmpl.xml": "feed"}
    # the publisher fixes the missing page and the missing feed
    late = site.root / "articles" / "late.html"
    late_feed = site.root / "late-feed.tmpl.xml"
    late.write_text(LATE_ARTICLE, encoding="utf-8")
    shutil.copy(site.root / "feed.tmpl.xml", late_feed)
    try:
        result = retry_failures(
            out=str(out), run_id=site.run_id, allow_private_networks=True, settings=FAST
        )
    finally:
        late.unlink()
        late_feed.unlink()
    assert result["stored"] == 1  # late.html; the feed's items are all stored already
    df = _scan(out)
    assert df.height == 7
    row = df.filter(pl.col("url").str.ends_with("/late.html")).row(0, named=True)
    assert "شارع المتنبي" in row["text"] and row["run_id"] == result["run_id"]
    rows = {r["source"]: r for r in result["sources"]}  # type: ignore[union-attr]
    assert rows["late-feed"]["discovered"] == 7 and rows["late-feed"]["skipped"] == 7
    after = pl.read_parquet(f"{out}/failures/**/*.parquet").filter(
        pl.col("run_id") == result["run_id"]
    )
    assert after["url"].str.split("/").list.last().to_list() == ["logo.png"]
    # retrying the same run again stores nothing twice
    again = retry_failures(
        out=str(out), run_id=site.run_id, allow_private_networks=True, settings=FAST
    )
    assert again["stored"] == 0 and _scan(out).height == 7


def test_retry_failures_with_a_file_uri_output(site: Site, tmp_path: Path) -> None:
    """The same output given as file://: failures read, articles and new failures written
    in the folder itself (not under a relative `file:` directory), each failure typed."""
    from marsad.flows.retry_failures import retry_failures

    out = _copy(site, tmp_path)
    late = site.root / "articles" / "late.html"
    late.write_text(LATE_ARTICLE, encoding="utf-8")  # fixed; the late feed stays missing
    try:
        result = retry_failures(
            out=out.as_uri(), run_id=site.run_id, allow_private_networks=True, settings=FAST
        )
    finally:
        late.unlink()
    assert result["stored"] == 1 and _scan(out).height == 7
    assert not (Path.cwd() / "file:").exists() and not (tmp_path / "file:").exists()
    after = pl.read_parquet(f"{out}/failures/**/*.parquet").filter(
        pl.col("run_id") == result["run_id"]
    )
    got = sorted(zip(after["url"].str.split("/").list.last(), after["kind"], strict=True))
    assert got == [("late-feed.tmpl.xml", "feed"), ("logo.png", "article")]


def test_retry_failures_needs_a_run_or_a_window(site: Site, tmp_path: Path) -> None:
    from marsad.flows.retry_failures import retry_failures

    with pytest.raises(ValueError, match="run_id, a window"):
        retry_failures(out=str(site.out))


def test_backfill_a_date_range_through_the_sitemap(site: Site, tmp_path: Path) -> None:
    from marsad.flows.backfill import backfill

    sources = tmp_path / "archive.yaml"
    sources.write_text(
        f"sources:\n  - name: archive\n    sitemaps: [{site.base}/sitemap.tmpl.xml]\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = backfill(
        sources=str(sources),
        out=str(out),
        since=date(2020, 1, 1),
        until=date(2026, 11, 27),
        allow_private_networks=True,
        settings=FAST,
    )
    df = _scan(out)
    names = set(df["url"].str.split("/").list.last())
    # 2020 and 2024 entries are far older than the monitor's 7-day sitemap window
    assert names == {"baghdad-nato.cp1256.html", "gulf-summit.cp1256.html", "football-final.html"}
    assert result["stored"] == 3 and set(df["source"]) == {"archive"}
    # backfilling an overlapping range later fetches only what is missing
    more = backfill(
        sources=str(sources),
        out=str(out),
        since=date(2026, 11, 26),
        until=date(2026, 11, 28),
        allow_private_networks=True,
        settings=FAST,
    )
    assert more["stored"] == 1 and more["skipped"] == 1  # cairo new, football stored already
    (n,) = duckdb.sql(
        f"select count(distinct article_id) from read_parquet('{out}/articles/**/*.parquet')"
    ).fetchall()[0]
    assert n == 4


def test_reprocess_from_the_archive_without_fetching(site: Site, tmp_path: Path) -> None:
    from marsad.flows.reprocess import reprocess

    out = _copy(site, tmp_path)
    before = _scan(out).sort("article_id")
    assert any((out / "raw").glob("*.warc.gz"))
    # the archive is all it reads: with loopback refused, any fetch would end as a failure
    settings = FAST.model_copy(update={"allow_private_networks": False, "ner_backend": "rules"})
    result = reprocess(out=str(out), settings=settings)
    after = _scan(out).sort("article_id")
    assert result["stored"] == 6 and result["failed"] == 0
    assert after.height == 6  # superseded, not duplicated
    assert set(after["run_id"]) == {result["run_id"]}
    assert after["article_id"].to_list() == before["article_id"].to_list()
    assert after["text"].to_list() == before["text"].to_list()
    (n,) = duckdb.sql(
        f"select count(*) from read_parquet('{out}/articles/**/*.parquet', hive_partitioning=true)"
    ).fetchall()[0]
    assert n == 6
