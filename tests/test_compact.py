"""Compaction: `marsad compact` and the flow merge a partition's files atomically."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from storefactory import article, failure

from marsad import dataset
from marsad.cli import main
from marsad.compact import compact
from marsad.dataset import resolve
from marsad.schema import SCHEMA_VERSION, SCHEMAS
from marsad.transaction import Transaction, writer_lock
from marsad.writer import Writer, article_rows, mention_rows, to_table


def _scan(out: Path, ds: str = "articles") -> pl.DataFrame:
    return pl.scan_parquet(f"{out}/{ds}/**/*.parquet", hive_partitioning=True).collect()


def _files(out: Path, ds: str, day: str) -> list[Path]:
    return sorted((out / ds / f"date={day}").glob("*.parquet"))


def test_cli_compacts_one_date_into_one_file(tmp_path: Path, capsys) -> None:
    w = Writer(tmp_path)
    for seq in range(8):
        arts = [article(2 * seq + k, hour=(7 * seq + k) % 24) for k in range(2)]
        w.store(arts, [failure(f"http://x/{seq}")], "r1", seq)
    w.store([article(100, day=4), article(101, day=4)], [], "r1", 8)
    w.store([article(102, day=4)], [], "r1", 9)
    before = _scan(tmp_path).sort("article_id")
    assert len(_files(tmp_path, "articles", "2026-01-03")) == 8

    assert main(["compact", "--out", str(tmp_path), "--date", "2026-01-03"]) == 0
    assert "compacted 1 partitions" in capsys.readouterr().out
    for ds in ("articles", "mentions", "failures"):
        files = _files(tmp_path, ds, "2026-01-03")
        assert len(files) == 1 and files[0].name.startswith("part-compact")
        schema = pq.read_schema(files[0])
        assert schema.metadata[b"marsad.schema_version"] == SCHEMA_VERSION.encode()
        for field in SCHEMAS[ds]:  # descriptions survive the merge
            assert schema.field(field.name).metadata == field.metadata
    assert len(_files(tmp_path, "articles", "2026-01-04")) == 2  # not asked for: untouched
    after = _scan(tmp_path).sort("article_id")
    assert after.drop("date").equals(before.drop("date"))
    day = pq.read_table(_files(tmp_path, "articles", "2026-01-03")[0])
    times = day.column("published_at").to_pylist()
    assert times == sorted(times)
    assert _scan(tmp_path, "mentions").height == 2 * after.height
    assert _scan(tmp_path, "failures").height == 8

    assert main(["compact", "--out", str(tmp_path)]) == 0  # every date
    assert len(_files(tmp_path, "articles", "2026-01-04")) == 1
    assert "compacted 1 partitions" in capsys.readouterr().out


def test_cli_rejects_a_bad_date(tmp_path: Path, capsys) -> None:
    (tmp_path / "articles").mkdir()  # a marsad output: --out passes
    with pytest.raises(SystemExit) as exc:
        main(["compact", "--out", str(tmp_path), "--date", "2026-13-01"])
    assert exc.value.code == 2
    assert "expected YYYY-MM-DD" in capsys.readouterr().err


def test_duplicates_keep_the_newest_row_and_its_mentions(tmp_path: Path) -> None:
    """A dataset written before the lock existed (or by hand) may hold an id twice."""
    old = article(1, fetched=datetime(2026, 1, 3, 9, tzinfo=UTC))
    new = article(1, fetched=datetime(2026, 1, 5, 9, tzinfo=UTC), text="بغداد " + "نص " * 30)
    new.entities = new.entities[1:2]
    new.entities[0].start, new.entities[0].end = 0, 5
    loc = resolve(tmp_path)
    with writer_lock(loc):
        for name, art in (("part-b-00000.parquet", new), ("part-a-00000.parquet", old)):
            txn = Transaction(loc)
            keep = sorted(p.name for p in _files(tmp_path, "articles", "2026-01-03"))
            for ds, rows in (("articles", article_rows), ("mentions", mention_rows)):
                txn.stage(ds, "date=2026-01-03", keep, {name: to_table(rows([art]), ds)})
            txn.commit()
    assert _scan(tmp_path).height == 2
    report = compact(tmp_path)
    assert report.duplicates_dropped == 1
    df = _scan(tmp_path)
    assert df.height == 1 and df["fetched_at"][0] == new.fetched_at
    assert _scan(tmp_path, "mentions")["label"].to_list() == ["LOC"]


def test_row_groups_are_sized_by_bytes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(dataset, "ROW_GROUP_BYTES", 256 * 1024)
    table = pa.table({"text": ["ن" * 500] * 3000})  # ~1 KB a row, ~3 MB in all
    path = tmp_path / "x.parquet"
    dataset.write_parquet(table, str(path), resolve(tmp_path).fs)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups >= 3
    assert sum(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) == 3000


def test_readers_never_see_a_row_twice_during_compaction(tmp_path: Path) -> None:
    w = Writer(tmp_path)
    total = 0
    for seq in range(6):
        w.store([article(3 * seq + k, hour=seq) for k in range(3)], [], "r1", seq)
        total += 3
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for i in range(6):
                w.store([article(1000 + i, hour=i)], [], "r2", i)
                w.store([article(i % 5, hour=(i + 3) % 24, run_id="r3")], [], "r3", i, True)
                compact(tmp_path)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    thread = threading.Thread(target=churn)
    thread.start()
    complete = 0
    while not stop.is_set():
        try:
            ids = []
            for p in sorted(tmp_path.glob("articles/date=*/*.parquet")):
                ids += pq.read_table(p, columns=["article_id"]).column(0).to_pylist()
        except FileNotFoundError:  # listed before a swap, opened after: the reader retries
            continue
        assert len(ids) == len(set(ids))
        assert total <= len(ids) <= total + 6
        complete += 1
    thread.join()
    assert errors == []
    assert complete > 0
    df = _scan(tmp_path)
    assert df.height == total + 6 == df["article_id"].n_unique()


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_compact_flow(tmp_path: Path) -> None:
    from marsad.flows.compact import compact_flow

    w = Writer(tmp_path)
    for seq in range(5):
        w.store([article(seq)], [], "r1", seq)
    stories = len(_files(tmp_path, "stories", "2026-01-03"))  # each batch rewrites its story
    result = compact_flow(out=tmp_path.as_uri())
    assert result["partitions"] == 1 and result["files_in"] == 10 + stories
    assert len(_files(tmp_path, "articles", "2026-01-03")) == 1
    assert _scan(tmp_path).height == 5


def test_budgeted_compaction_merges_only_the_small_files(tmp_path: Path) -> None:
    """The store step's compaction must not read a whole day (memory would grow with it)."""
    from marsad.compact import compact_locked, partition_sizes

    w = Writer(tmp_path)
    w.store([article(k, hour=k % 24) for k in range(400)], [], "big", 0)  # one large file
    for seq in range(1, 5):
        w.store([article(1000 + seq, hour=seq)], [], "r1", seq)
    day = "2026-01-03"
    sizes = partition_sizes(resolve(tmp_path))[f"date={day}"]
    big = max(sizes, key=sizes.__getitem__)
    small = sum(v for k, v in sizes.items() if k != big)
    assert sizes[big] > small
    before = _scan(tmp_path).sort("article_id")
    stories = [p.name for p in _files(tmp_path, "stories", day) if p.name != big]
    with writer_lock(resolve(tmp_path)):
        report = compact_locked(resolve(tmp_path), [day], budget_bytes=small)
    names = [p.name for p in _files(tmp_path, "articles", day)]
    assert len(names) == 2 and big in names  # the large file untouched, the 4 small merged
    # the articles and mentions files of the 4 small batches, and their stories files
    assert report.files_in == 4 + 4 + len(stories)
    after = _scan(tmp_path).sort("article_id")
    assert after.drop("date").equals(before.drop("date"))
    ments = _scan(tmp_path, "mentions")
    assert ments.height == before["entities"].list.len().sum()


@pytest.mark.parametrize("name", ["typo", "empty", "afile"])
def test_compact_refuses_what_is_not_a_marsad_output(name: str, tmp_path: Path) -> None:
    """The flow (run from the UI) as well as the CLI: a typo is not a new empty output."""
    from marsad.outdir import OutputError

    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("x")
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(OutputError, match=f"^{re.escape(str(tmp_path / name))}: "):
        compact(tmp_path / name)
    assert sorted(tmp_path.rglob("*")) == before


def test_an_output_with_only_fetch_state_is_a_marsad_output(tmp_path: Path) -> None:
    """A run that stored nothing yet has its state file: compacting it is a no-op, not an error."""
    from marsad.state import StateStore

    StateStore.for_output(tmp_path).close()
    assert compact(tmp_path).partitions == 0
    assert main(["compact", "--out", str(tmp_path)]) == 0


def test_compact_cli_refuses_a_uri_with_no_datasets() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["compact", "--out", "memory://marsad-test/none"])
    assert exc.value.code == 2
