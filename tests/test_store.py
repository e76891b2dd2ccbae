"""The store stage: layout, metadata, idempotency, re-processing, two writers at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
from storefactory import article, failure

from marsad.schema import ARTICLES, MENTIONS, SCHEMA_VERSION
from marsad.store import MAX_FILES, Writer, known_ids, store_articles, write_failures
from marsad.transaction import JOURNAL, RETIRED, STAGING

TESTS = Path(__file__).resolve().parent


def _scan(out: Path, dataset: str = "articles") -> pl.DataFrame:
    return pl.scan_parquet(f"{out}/{dataset}/**/*.parquet", hive_partitioning=True).collect()


def test_layout_metadata_and_sorting(tmp_path: Path) -> None:
    arts = [article(i, hour=23 - i) for i in range(4)] + [article(9, day=None, entity_id="Q1")]
    stored, paths = store_articles(arts, set(), tmp_path, "r1", 0)
    assert len(stored) == 5
    rel = sorted(str(Path(p).relative_to(tmp_path)) for p in paths)
    assert rel == [
        "articles/date=2026-01-03/part-r1-00000.parquet",
        "articles/date=2026-11-29/part-r1-00000.parquet",  # no publication date: fetch date
        "mentions/date=2026-01-03/part-r1-00000.parquet",
        "mentions/date=2026-11-29/part-r1-00000.parquet",
    ]
    for p in paths:
        pf = pq.ParquetFile(p)
        md = pf.schema_arrow.metadata
        assert md[b"marsad.schema_version"] == SCHEMA_VERSION.encode()
        assert md[b"marsad.version"]
        assert pf.metadata.row_group(0).column(0).compression == "ZSTD"
        expected = ARTICLES if "/articles/" in p else MENTIONS
        for field in expected:
            got = pf.schema_arrow.field(field.name).metadata[b"description"]
            assert got == field.metadata[b"description"]
    day = pq.read_table(tmp_path / "articles/date=2026-01-03/part-r1-00000.parquet")
    times = day.column("published_at").to_pylist()
    assert times == sorted(times) and len(times) == 4

    df = _scan(tmp_path)
    assert df.height == 5 and set(df.columns) >= set(ARTICLES.names) | {"date"}
    ments = _scan(tmp_path, "mentions")
    assert ments.height == 10  # two mentions per article
    assert set(ments["article_id"]) == set(df["article_id"])
    row = ments.filter(pl.col("label") == "PERS", pl.col("article_id") == arts[4].article_id)
    assert row["entity_id"].to_list() == ["Q1"] and row["start"][0] == 0 and row["end"][0] == 9
    text = df.filter(pl.col("article_id") == arts[4].article_id)["text"][0]
    assert text[row["start"][0] : row["end"][0]] == row["text"][0]
    n = duckdb.sql(
        f"select count(*) from read_parquet('{tmp_path}/mentions/**/*.parquet', "
        "hive_partitioning=true)"
    ).fetchall()[0][0]
    assert n == 10


def test_rerun_from_a_new_process_adds_nothing(tmp_path: Path) -> None:
    store_articles([article(i) for i in range(3)], set(), tmp_path, "r1", 0)
    seen = known_ids(tmp_path)
    assert article(1).article_id in seen
    # a new Writer has no caches: it must find the stored ids on disk, not in memory
    fresh, paths = Writer(tmp_path).store([article(i, run_id="r2") for i in range(5)], [], "r2", 0)
    assert sorted(a.url for a in fresh) == [article(3).url, article(4).url]
    df = _scan(tmp_path)
    assert df.height == 5 == df["article_id"].n_unique()
    assert _scan(tmp_path, "mentions").height == 10
    again, paths = Writer(tmp_path).store([article(i) for i in range(5)], [], "r3", 0)
    assert again == [] and paths == []


def test_reprocessing_replaces_the_row_and_its_mentions(tmp_path: Path) -> None:
    w = Writer(tmp_path)
    w.store([article(i) for i in range(3)], [], "r1", 0)
    later = datetime(2026, 11, 30, tzinfo=UTC)
    redo = article(1, run_id="r2", fetched=later, text="بغداد " + "نص جديد " * 30)
    redo.entities = redo.entities[1:2]
    redo.entities[0].start, redo.entities[0].end = 0, 5
    stored, _ = w.store([redo], [], "r2", 0, replace=True)
    assert len(stored) == 1
    df = _scan(tmp_path)
    assert df.height == 3 == df["article_id"].n_unique()
    row = df.filter(pl.col("article_id") == redo.article_id).row(0, named=True)
    assert row["run_id"] == "r2" and row["text"].startswith("بغداد نص جديد")
    ments = _scan(tmp_path, "mentions").filter(pl.col("article_id") == redo.article_id)
    assert ments["label"].to_list() == ["LOC"]
    # the publication date changed: the row moves to another partition, still only once
    moved = article(2, day=7, run_id="r3")
    Writer(tmp_path).store([moved], [], "r3", 0, replace=True)
    df = _scan(tmp_path)
    assert df.height == 3 == df["article_id"].n_unique()
    assert str(df.filter(pl.col("article_id") == moved.article_id)["date"][0]) == "2026-01-07"
    ments = _scan(tmp_path, "mentions")
    assert ments.height == 5 and ments["article_id"].n_unique() == 3


def test_failures_and_no_stray_files(tmp_path: Path) -> None:
    w = Writer(tmp_path)
    w.store([article(0)], [failure("http://x/404")], "r1", 0)
    write_failures([failure("http://x/500", day=4)], tmp_path, "r1", 1)
    fails = _scan(tmp_path, "failures")
    assert sorted(fails["url"]) == ["http://x/404", "http://x/500"]
    assert sorted(str(d) for d in fails["date"]) == ["2026-01-03", "2026-01-04"]
    for p in tmp_path.rglob("*.parquet"):
        parts = p.relative_to(tmp_path).parts
        if parts[:2] == (STAGING, RETIRED):
            continue  # swapped-out partitions, kept for a grace period (see below)
        assert parts[0] in ("articles", "mentions", "failures", "stories") and len(parts) == 3
        pq.read_table(p)
    staging = tmp_path / STAGING
    assert [p.name for p in staging.iterdir()] in ([], [RETIRED]) if staging.exists() else True
    assert list((tmp_path / JOURNAL).iterdir()) == []
    assert [p.name for p in tmp_path.rglob("*") if "tmp" in p.name or "pending" in p.name] == []


def test_fifteen_minute_runs_do_not_pile_up_files(tmp_path: Path) -> None:
    w = Writer(tmp_path)
    for run in range(2 * MAX_FILES + 1):
        w.store([article(run, hour=run % 24)], [], f"run{run}", 0)
    files = list((tmp_path / "articles" / "date=2026-01-03").glob("*.parquet"))
    assert 1 <= len(files) <= MAX_FILES
    df = _scan(tmp_path)
    assert df.height == 2 * MAX_FILES + 1 == df["article_id"].n_unique()
    assert _scan(tmp_path, "mentions").height == 2 * df.height


WORKER = """
import sys, time, random
from pathlib import Path
sys.path.insert(0, {tests!r})
from storefactory import article
from marsad.writer import Writer
out, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
ids = list(range(60))
random.Random(name).shuffle(ids)
w = Writer(out)
while not go.exists():
    time.sleep(0.01)
for seq in range(0, 60, 5):
    w.store([article(i, run_id=name, hour=i % 24) for i in ids[seq:seq + 5]], [], name, seq)
"""


def test_two_overlapping_processes_store_each_article_once(tmp_path: Path) -> None:
    out, go = tmp_path / "out", tmp_path / "go"
    script = WORKER.format(tests=str(TESTS))
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(out), name, str(go)], env=env)
        for name in ("runa", "runb")
    ]
    time.sleep(0.5)
    go.touch()
    assert [p.wait(timeout=180) for p in procs] == [0, 0]
    df = _scan(out)
    assert df.height == 60 == df["article_id"].n_unique()
    assert set(df["run_id"]) <= {"runa", "runb"}
    ments = _scan(out, "mentions")
    assert ments.height == 120
    assert ments.group_by("article_id").len()["len"].to_list() == [2] * 60
