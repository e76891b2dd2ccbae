"""The datasets as consumers read them: polars, DuckDB, pyarrow.dataset, the README examples,
files of two schema versions, and output given as a URI."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from demorun import DemoRun, demo_run
from storefactory import article, body, failure, polars_read, write_old_version

from marsad.compact import compact
from marsad.dataset import resolve
from marsad.places import resolve_places
from marsad.record import Article, Entity
from marsad.schema import ARTICLES, ENTITY_TYPE, MENTIONS
from marsad.store import known_ids
from marsad.writer import Writer

README = Path(__file__).resolve().parents[1] / "README.md"
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
FUAD = Entity("فؤاد حسين", "فؤاد حسين", "PERS", 0, 9, "Q1")
BAGHDAD = Entity("بغداد", "بغداد", "LOC", 13, 18)
NATO = Entity("الناتو", "الناتو", "ORG", 20, 26)


def _art(
    i: int, source: str, days_ago: int, ents: list[Entity], text: str | None = None
) -> Article:
    a = article(i, source=source, text=text or "فؤاد حسين في بغداد. الناتو " + body(i))
    a.published_at = NOW - timedelta(days=days_ago, hours=i % 5)
    a.entities = [Entity(e.text, e.norm, e.label, e.start, e.end, e.entity_id) for e in ents]
    return a


def corpus() -> list[Article]:
    wire = "فؤاد حسين في بغداد. الناتو " + body(999)  # one wire story, three outlets
    arts = [
        _art(1, "wire", 0, [FUAD, BAGHDAD, NATO], wire),
        _art(2, "paper", 1, [FUAD, BAGHDAD], wire),
        _art(3, "tv", 2, [FUAD], wire),
        _art(4, "wire", 1, [BAGHDAD, NATO]),
        _art(5, "wire", 3, [FUAD, BAGHDAD]),
        _art(6, "paper", 4, [NATO, BAGHDAD]),
        _art(7, "paper", 5, [BAGHDAD]),
        _art(8, "tv", 20, [FUAD, NATO]),  # not this week
        _art(9, "wire", 30, [FUAD]),
    ]
    return arts


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Article]]:
    root = tmp_path_factory.mktemp("consumers")
    out = root / "data"
    arts = corpus()
    w = Writer(out)
    for seq in range(0, len(arts), 3):
        fails = [failure(f"http://x/{seq}", day=2)]
        w.store(arts[seq : seq + 3], fails, "run1", seq)
    return root, arts


def _day(a: Article) -> date:
    return a.published_at.date()


def test_each_dataset_reads_with_polars_duckdb_and_pyarrow(data) -> None:
    root, arts = data
    out = root / "data"
    day = _day(arts[1])
    want_articles = sum(_day(a) == day for a in arts)
    want_mentions = sum(len(a.entities) for a in arts if _day(a) == day)
    for ds, want in (("articles", want_articles), ("mentions", want_mentions)):
        lazy = pl.scan_parquet(f"{out}/{ds}/**/*.parquet", hive_partitioning=True)
        got = lazy.filter(pl.col("date") == day).collect()
        assert got.height == want > 0
        n = duckdb.sql(
            f"select count(*) from read_parquet('{out}/{ds}/**/*.parquet', "
            f"hive_partitioning=true) where date = DATE '{day}'"
        ).fetchall()[0][0]
        assert n == want
        dset = pads.dataset(out / ds, format="parquet", partitioning="hive")
        assert dset.to_table(filter=pads.field("date") == day.isoformat()).num_rows == want
        everything = len(arts) if ds == "articles" else sum(len(a.entities) for a in arts)
        assert dset.count_rows() == everything
    fails = pl.scan_parquet(f"{out}/failures/**/*.parquet", hive_partitioning=True)
    assert fails.filter(pl.col("date") == date(2026, 1, 2)).collect().height == 3
    assert pads.dataset(out / "failures", partitioning="hive").count_rows() == 3


def _example(name: str) -> tuple[str, str]:
    text = README.read_text(encoding="utf-8")
    m = re.search(rf"<!-- example: {name} -->\n```(\w+)\n(.*?)```", text, re.S)
    assert m, f"README example {name} not found"
    return m.group(1), m.group(2)


def test_readme_top_entities_this_week(data, monkeypatch) -> None:
    root, arts = data
    monkeypatch.chdir(root)
    lang, sql = _example("top-entities")
    assert lang == "sql"
    rows = duckdb.sql(sql).fetchall()
    week = [a for a in arts if (NOW - a.published_at).days < 7]
    want = Counter((a.source, e.norm, e.label) for a in week for e in a.entities)
    got = {(s, n, lab): m for s, n, lab, m, _arts in rows}
    assert got == dict(want)
    # ordered by source, then most mentioned first
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    wire = [r[3] for r in rows if r[0] == "wire"]
    assert wire == sorted(wire, reverse=True)


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The monitor flow's output for the demo site (one run, shared with other modules)."""
    return demo_run(tmp_path_factory)


def test_readme_articles_mentioning_per_day(demo: DemoRun, monkeypatch) -> None:
    """On pipeline output: the stored norm is فءاد حسين, which `marsad.normalise` matches."""
    monkeypatch.chdir(demo.root)
    lang, code = _example("mentioning-per-day")
    assert lang == "python" and "marsad.normalise(" in code
    scope: dict[str, object] = {}
    exec(code, scope)
    per_day = scope["per_day"]
    arts = pl.read_parquet(f"{demo.out}/articles/**/*.parquet", hive_partitioning=True)
    want = Counter(
        d for d, text in zip(arts["date"], arts["text"], strict=True) if FUAD.text in text
    )
    assert want  # the seed article names him
    assert dict(zip(per_day["date"], per_day["articles"], strict=True)) == dict(want)
    # the hand-typed spelling the README used to show finds nothing on real output
    typed = pl.scan_parquet(f"{demo.out}/mentions/**/*.parquet", hive_partitioning=True)
    assert typed.filter(pl.col("norm") == FUAD.text).collect().height == 0


def test_readme_same_story(data, monkeypatch) -> None:
    root, arts = data
    monkeypatch.chdir(root)
    _lang, sql = _example("same-story")
    rows = duckdb.sql(sql).fetchall()
    assert rows == [(arts[0].article_id, 3, ["paper", "tv", "wire"])]


def _v1_file(path: Path, arts: list[Article]) -> None:
    """A file as the walking skeleton wrote it: schema version 1, no dup_group."""
    from marsad.writer import article_rows

    write_old_version(path, ARTICLES, article_rows(arts), "dup_group", "1")


def test_two_schema_versions_read_together(tmp_path: Path) -> None:
    old = [article(i, day=2) for i in range(3)]
    _v1_file(tmp_path / "articles/date=2026-01-02/part-old-00000.parquet", old)
    Writer(tmp_path).store([article(i, day=3) for i in range(3, 6)], [], "r2", 0)
    glob = f"{tmp_path}/articles/**/*.parquet"

    df = pl.scan_parquet(
        glob,
        hive_partitioning=True,
        schema=pl.Schema(pl.from_arrow(ARTICLES.empty_table()).schema),
        missing_columns="insert",
        extra_columns="ignore",
    ).collect()
    assert df.height == 6
    assert df.filter(pl.col("dup_group").is_null()).height == 3  # the v1 rows
    n, groups = duckdb.sql(
        f"select count(*), count(dup_group) from read_parquet('{glob}', "
        "hive_partitioning=true, union_by_name=true)"
    ).fetchall()[0]
    assert (n, groups) == (6, 3)
    dset = pads.dataset(tmp_path / "articles", schema=ARTICLES, partitioning="hive")
    assert dset.to_table().num_rows == 6

    # the writer sees v1 rows: a re-run stores nothing twice
    fresh, _ = Writer(tmp_path).store(old, [], "r3", 0)
    assert fresh == []
    # compaction rewrites the v1 file to the current schema: plain reads work again
    compact(tmp_path, min_files=1)
    plain = pl.scan_parquet(glob, hive_partitioning=True).collect()
    assert plain.height == 6 and plain["dup_group"].null_count() == 0


NAMES = ("name", "name_en", "country", "lat", "lon")  # the fields version 4 added
OLD_ENTITY = pa.struct([f for f in ENTITY_TYPE if f.name not in NAMES])


def _v3_files(root: Path, arts: list[Article]) -> None:
    """Files as marsad wrote them before version 4: no `name`/`name_en`, no place
    (`country`, `lat`, `lon`), flat or nested."""
    from marsad.writer import article_rows, mention_rows

    old_arts = pa.schema(
        [f.with_type(pa.list_(OLD_ENTITY)) if f.name == "entities" else f for f in ARTICLES]
    )
    old_ments = pa.schema([f for f in MENTIONS if f.name not in NAMES])
    rows = [
        {**r, "entities": [{k: v for k, v in e.items() if k not in NAMES} for e in r["entities"]]}
        for r in article_rows(arts)
    ]
    ments = [{k: v for k, v in r.items() if k not in NAMES} for r in mention_rows(arts)]
    for ds, schema, data in (("articles", old_arts, rows), ("mentions", old_ments, ments)):
        path = root / ds / "date=2026-01-02" / "part-v3-00000.parquet"
        path.parent.mkdir(parents=True)
        meta = schema.with_metadata({"marsad.schema_version": "3"})
        pq.write_table(pa.Table.from_pylist(data, schema=meta), path)


def test_files_without_names_read_beside_files_with_them(tmp_path: Path) -> None:
    from marsad.dataset import read_dataset
    from marsad.search import search

    old = [article(i, day=2) for i in range(3)]
    _v3_files(tmp_path, old)
    new = [article(i, day=3) for i in range(3, 6)]
    for a in new:
        for e in a.entities:
            e.name = e.text
        resolve_places(a.entities)  # بغداد: IQ, 33.34, 44.40
    Writer(tmp_path).store(new, [], "r2", 0)
    aglob, mglob = (f"{tmp_path}/{ds}/**/*.parquet" for ds in ("articles", "mentions"))

    # marsad's readers: the missing columns and fields read as null
    arts = read_dataset(tmp_path, "articles")
    names = [e["name"] for ents in arts.column("entities").to_pylist() for e in ents]
    assert len(names) == 12 and names.count(None) == 6
    ments = read_dataset(tmp_path, "mentions")
    assert ments.num_rows == 12 and ments.column("name").null_count == 6
    places = [e["country"] for ents in arts.column("entities").to_pylist() for e in ents]
    assert places.count("IQ") == 3 and places.count(None) == 9  # new LOC mentions only
    assert ments.column("country").to_pylist().count("IQ") == 3
    assert ments.column("lat").null_count == 9
    assert len(search(tmp_path, "بغداد")) == 6

    # DuckDB by name, top level and inside `entities`
    flat = duckdb.sql(
        f"select date, count(*), count(name) from read_parquet('{mglob}', hive_partitioning=true,"
        " union_by_name=true) group by date order by date"
    ).fetchall()
    assert [(n, named) for _d, n, named in flat] == [(6, 0), (6, 6)]
    located = duckdb.sql(
        f"select date, count(country), round(avg(lat)) from read_parquet('{mglob}', "
        "hive_partitioning=true, union_by_name=true) group by date order by date"
    ).fetchall()
    assert [(n, lat) for _d, n, lat in located] == [(0, None), (3, 33.0)]
    nested = duckdb.sql(
        f"select count(*), count(e.name) from read_parquet('{aglob}', hive_partitioning=true, "
        "union_by_name=true), unnest(entities) as t(e)"
    ).fetchall()
    assert nested == [(12, 6)]

    # polars, with the options the README gives
    entities = polars_read(aglob, ARTICLES).select(
        pl.col("entities").explode().struct.field("name", "country")
    )
    assert entities.height == 12 and entities["name"].null_count() == 6
    assert entities["country"].null_count() == 9
    assert polars_read(mglob, MENTIONS)["name"].null_count() == 6
    assert polars_read(mglob, MENTIONS)["lon"].null_count() == 9
    # pyarrow.dataset with the schema
    dset = pads.dataset(tmp_path / "mentions", schema=MENTIONS, partitioning="hive")
    assert dset.to_table(columns=["name"]).column("name").null_count == 6

    # the writer sees the old rows; compaction brings them to version 4 (names stay null)
    assert Writer(tmp_path).store(old, [], "r3", 0)[0] == []
    compact(tmp_path, min_files=1)
    plain = pl.scan_parquet(aglob, hive_partitioning=True).collect()
    names = plain.select(pl.col("entities").explode().struct.field("name"))["name"]
    assert plain.height == 6 and names.len() == 12 and names.null_count() == 6
    assert pl.scan_parquet(mglob, hive_partitioning=True).collect()["name"].null_count() == 6
    compacted = pl.scan_parquet(mglob, hive_partitioning=True).collect()
    assert compacted["country"].to_list().count("IQ") == 3 and compacted["lat"].null_count() == 9


def test_output_as_a_file_uri(tmp_path: Path) -> None:
    uri = (tmp_path / "out").as_uri()
    assert uri.startswith("file:///")
    w = Writer(uri)
    w.store([article(1), article(2)], [failure("http://x/1")], "r1", 0)
    w.store([article(3)], [], "r1", 1)
    assert Writer(uri).store([article(1)], [], "r2", 0)[0] == []
    assert article(3).article_id in known_ids(uri)
    assert compact(uri).partitions == 1
    df = pl.scan_parquet(f"{tmp_path}/out/articles/**/*.parquet", hive_partitioning=True)
    assert df.collect().height == 3
    assert pads.dataset(uri + "/mentions", partitioning="hive").count_rows() == 6


def test_output_on_a_non_local_filesystem() -> None:
    """pyarrow's in-memory filesystem stands in for s3:// or gs:// (same code path)."""
    loc = resolve("mock:///bucket/marsad")
    assert loc.local is None
    w = Writer(loc)
    w.store([article(1), article(2)], [failure("http://x/1")], "r1", 0)
    w.store([article(2), article(3)], [], "r1", 1)
    dset = pads.dataset(loc.path("articles"), filesystem=loc.fs, partitioning="hive")
    assert sorted(dset.to_table().column("article_id").to_pylist()) == sorted(
        article(i).article_id for i in (1, 2, 3)
    )
    assert compact(loc).partitions == 1
    ments = pads.dataset(loc.path("mentions"), filesystem=loc.fs, schema=MENTIONS)
    assert ments.count_rows() == 6
    files = loc.fs.get_file_info(pa.fs.FileSelector(loc.path("articles"), recursive=True))
    assert len([f for f in files if f.base_name.endswith(".parquet")]) == 1
