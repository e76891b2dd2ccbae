"""End to end: the monitor flow against the demo site on a loopback HTTP server."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from marsad.demo import demo_sources_yaml
from marsad.schema import ARTICLES
from marsad.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

FAST = Settings(
    allow_private_networks=True, per_host_delay_s=0.0, backoff_base_s=0.01, batch_size=3
)


def _sources(tmp_path: Path, base: str) -> str:
    path = tmp_path / "sources.yaml"
    path.write_text(demo_sources_yaml(base), encoding="utf-8")
    return str(path)


def _scan(out: Path) -> pl.DataFrame:
    return pl.scan_parquet(f"{out}/articles/**/*.parquet", hive_partitioning=True).collect()


def test_monitor_flow_end_to_end(tmp_path: Path, demo_site: str) -> None:
    from marsad.flows.monitor import monitor

    out = tmp_path / "out"
    sources = _sources(tmp_path, demo_site)
    result = monitor(sources=sources, out=str(out), allow_private_networks=True, settings=FAST)

    df = _scan(out)
    assert set(ARTICLES.names) <= set(df.columns)
    assert df.height == 6 == result["stored"]
    assert df["article_id"].n_unique() == df.height
    assert set(df["language"]) == {"ar"}
    assert df["fetched_at"].null_count() == 0
    # the tracking-parameter link was canonicalised; the #comments duplicate was skipped
    assert not any("utm_" in u for u in df["canonical_url"])
    assert result["skipped"] == 1

    seed = df.filter(pl.col("title").str.contains("الناتو")).row(0, named=True)
    assert "فؤاد حسين" in seed["text"] and "news-picture" not in seed["text"]
    assert seed["text_norm"] and "ـ" not in seed["text_norm"]
    labels = {(e["text"], e["label"]) for e in seed["entities"]}
    assert ("فؤاد حسين", "PERS") in labels
    assert ("بغداد", "LOC") in labels
    for e in seed["entities"]:
        assert seed["text"][e["start"] : e["end"]] == e["text"]

    # a page without a date takes the feed item's date
    fair = df.filter(pl.col("url").str.contains("cairo-book-fair")).row(0, named=True)
    assert fair["published_at"].isoformat().startswith("2026-11-27T08:00")
    # hive partition = publication date
    for row in df.iter_rows(named=True):
        assert str(row["date"]) == row["published_at"].date().isoformat()

    fails = pl.read_parquet(f"{out}/failures/**/*.parquet")
    reasons = dict(zip(fails["url"].str.split("/").list.last(), fails["error"], strict=True))
    assert reasons == {"missing-article.html": "HTTP 404", "logo.png": "not HTML: image/png"}
    assert set(fails["stage"]) == {"fetch"}

    n, distinct = duckdb.sql(
        f"select count(*), count(distinct article_id) from "
        f"read_parquet('{out}/articles/**/*.parquet', hive_partitioning=true)"
    ).fetchall()[0]
    assert n == distinct == 6

    # second run over the same sources: nothing new, no duplicates
    again = monitor(sources=sources, out=str(out), allow_private_networks=True, settings=FAST)
    assert again["stored"] == 0
    # every stored article is skipped before fetching; only the two failed URLs are tried again
    assert again["skipped"] == result["discovered"] - 2
    assert again["fetched"] == 0
    df2 = _scan(out)
    assert df2.height == 6 and df2["article_id"].n_unique() == 6


def test_private_addresses_refused_without_the_flag(tmp_path: Path, demo_site: str) -> None:
    from marsad.flows.monitor import monitor
    from marsad.flows.run import RunOutcome

    out = tmp_path / "out"
    with pytest.raises(RunOutcome, match="every source failed at discovery: feed: refused") as ex:
        monitor(
            sources=_sources(tmp_path, demo_site),
            out=str(out),
            settings=FAST.model_copy(update={"allow_private_networks": False}),
        )
    assert ex.value.summary["stored"] == 0 and ex.value.summary["failed"] == 3
    fails = pl.read_parquet(f"{out}/failures/**/*.parquet")
    assert fails.height == 3  # the feed and the two listed URLs
    assert all("loopback" in e for e in fails["error"])


def test_output_as_a_file_uri(tmp_path: Path, demo_site: str) -> None:
    from marsad.flows.monitor import monitor

    out = tmp_path / "uri-out"
    result = monitor(
        sources=_sources(tmp_path, demo_site),
        out=out.as_uri(),
        allow_private_networks=True,
        settings=FAST,
    )
    assert result["stored"] == 6
    assert _scan(out)["article_id"].n_unique() == 6
    assert any((out / "raw").glob("*.warc.gz"))  # the archive sits beside the data
    assert not (tmp_path / "file:").exists()  # the URI was not taken for a relative path
