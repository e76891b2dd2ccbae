from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

from marsad.record import Article, Entity, Failure, article_id_for
from marsad.schema import ARTICLES, SCHEMA_VERSION
from marsad.tasks.store import known_ids, store_articles, write_failures


def _article(url: str, published: datetime | None) -> Article:
    text = "قال فؤاد حسين في بغداد."
    return Article(
        url=url,
        source="s",
        fetched_at=datetime(2026, 11, 29, 8, tzinfo=UTC),
        canonical_url=url,
        article_id=article_id_for(url),
        title="t",
        published_at=published,
        language="ar",
        text=text,
        text_norm=text,
        entities=[Entity("فؤاد حسين", "فؤاد حسين", "PERS", 4, 13)],
        run_id="r1",
    )


def test_partitions_by_publication_or_fetch_date(tmp_path: Path) -> None:
    arts = [
        _article("http://a/1", datetime(2026, 1, 2, 23, tzinfo=UTC)),
        _article("http://a/2", None),
    ]
    stored, paths = store_articles(arts, set(), tmp_path, "r1", 0)
    assert len(stored) == 2
    assert sorted(p.parent.name for p in paths) == ["date=2026-01-02", "date=2026-11-29"]
    for p in paths:
        assert p.name == "part-r1-00000.parquet"
        md = pq.read_schema(p).metadata
        assert md[b"marsad.schema_version"] == SCHEMA_VERSION.encode()
        assert pq.ParquetFile(p).metadata.row_group(0).column(0).compression == "ZSTD"
    df = pl.scan_parquet(f"{tmp_path}/articles/**/*.parquet", hive_partitioning=True).collect()
    assert set(df.columns) >= set(ARTICLES.names) | {"date"}
    ent = df.filter(pl.col("url") == "http://a/1")["entities"][0][0]
    assert ent["label"] == "PERS" and ent["start"] == 4 and ent["end"] == 13
    glob = f"{tmp_path}/articles/**/*.parquet"
    n = duckdb.sql(
        f"select count(*) from read_parquet('{glob}', hive_partitioning=true)"
    ).fetchall()[0][0]
    assert n == 2


def test_seen_ids_are_not_stored_again(tmp_path: Path) -> None:
    art = _article("http://a/1", None)
    store_articles([art], set(), tmp_path, "r1", 0)
    seen = known_ids(tmp_path)
    assert art.article_id in seen
    again, paths = store_articles([_article("http://a/1", None)], seen, tmp_path, "r2", 0)
    assert again == [] and paths == []


def test_no_temporary_files_left(tmp_path: Path) -> None:
    store_articles([_article("http://a/1", None)], set(), tmp_path, "r1", 0)
    write_failures(
        [Failure("http://x", "s", "fetch", "HTTP 404", 1, "r1", datetime.now(UTC))],
        tmp_path,
        "r1",
        0,
    )
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    fails = pl.read_parquet(f"{tmp_path}/failures/**/*.parquet")
    assert fails["error"].to_list() == ["HTTP 404"]
