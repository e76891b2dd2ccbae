"""Small-file compaction: a partition's files become one file per dataset, swapped in atomically.

A run every 15 minutes writes up to 96 small files a day into a partition; compaction merges
them (articles, their mentions, failures and stories of that date in one transaction), keeps
one row per article_id (the newest fetch; the mentions of exactly that row) and per story_id
(the newest update), sorts by time and writes row groups sized for scans. Files of older
schema versions are read and upgraded on the way.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from marsad.dataset import (
    DATASETS,
    Location,
    conform,
    list_partitions,
    part_name,
    read_rows,
)
from marsad.outdir import require_marsad_output
from marsad.schema import SCHEMAS, SORT_KEYS
from marsad.transaction import Transaction, writer_lock

FILE_COL = "__file"


@dataclass
class Compacted:
    partitions: int = 0
    files_in: int = 0
    files_out: int = 0
    duplicates_dropped: int = 0

    def __str__(self) -> str:
        return (
            f"compacted {self.partitions} partitions: {self.files_in} files -> "
            f"{self.files_out}, {self.duplicates_dropped} duplicate rows dropped"
        )


def compaction_run_id() -> str:
    return f"compact{datetime.now(UTC):%Y%m%dT%H%M%S}{uuid.uuid4().hex[:6]}"


def _read_all(loc: Location, dataset: str, part: str, names: list[str]) -> pl.DataFrame:
    frames = []
    for name in names:
        table = read_rows(loc, dataset, part, name)
        frames.append(pl.DataFrame(table).with_columns(pl.lit(name).alias(FILE_COL)))
    if not frames:
        return pl.DataFrame(SCHEMAS[dataset].empty_table()).with_columns(pl.lit("").alias(FILE_COL))
    return pl.concat(frames, how="vertical")


def _finish(df: pl.DataFrame, dataset: str) -> pa.Table:
    df = df.drop(FILE_COL).sort(SORT_KEYS[dataset], nulls_last=True, maintain_order=True)
    return conform(df.to_arrow(), SCHEMAS[dataset])


def stage_partition(
    txn: Transaction,
    part: str,
    names: dict[str, list[str]],
    out: str,
    others: dict[str, list[str]] | None = None,
) -> int:
    """Stage the `names` files of `part` merged into one file named `out` per dataset, beside
    the untouched `others` (none: the whole partition); returns duplicate rows dropped."""
    others = others or {}
    loc = txn.loc
    arts = _read_all(loc, "articles", part, names["articles"])
    kept = (
        arts.sort(["fetched_at", FILE_COL], nulls_last=False)
        .unique("article_id", keep="last", maintain_order=True)
        .with_columns(pl.coalesce("dup_group", "article_id").alias("dup_group"))  # v1 rows
    )
    ments = _read_all(loc, "mentions", part, names["mentions"]).join(
        kept.select("article_id", FILE_COL), on=["article_id", FILE_COL], how="semi"
    )
    fails = _read_all(loc, "failures", part, names["failures"])
    stories = _read_all(loc, "stories", part, names.get("stories", []))
    stories = stories.sort("updated_at").unique("story_id", keep="last", maintain_order=True)
    datasets = [("articles", kept), ("mentions", ments), ("failures", fails)]
    for dataset, df in [*datasets, ("stories", stories)]:
        if names.get(dataset) or df.height:
            new = {out: _finish(df, dataset)} if df.height else {}
            txn.stage(dataset, part, others.get(dataset, []), new)
    return arts.height - kept.height


def partition_files(loc: Location) -> dict[str, dict[str, list[str]]]:
    """date partition -> dataset -> file names."""
    found: dict[str, dict[str, list[str]]] = {}
    for dataset in DATASETS:
        for part, infos in list_partitions(loc, dataset).items():
            entry = found.setdefault(part, {d: [] for d in DATASETS})
            entry[dataset] = [i.base_name for i in infos]
    return found


def partition_sizes(loc: Location) -> dict[str, dict[str, int]]:
    """date partition -> file name -> bytes on disk, summed over the datasets."""
    sizes: dict[str, dict[str, int]] = {}
    for dataset in DATASETS:
        for part, infos in list_partitions(loc, dataset).items():
            entry = sizes.setdefault(part, {})
            for info in infos:
                entry[info.base_name] = entry.get(info.base_name, 0) + info.size
    return sizes


def smallest_files(sizes: dict[str, int], budget_bytes: int) -> set[str]:
    """The smallest files whose sizes add up to at most `budget_bytes` (size-tiered merging)."""
    chosen: set[str] = set()
    total = 0
    for name, size in sorted(sizes.items(), key=lambda kv: (kv[1], kv[0])):
        if total + size > budget_bytes and chosen:
            break
        chosen.add(name)
        total += size
    return chosen


def compact_locked(
    loc: Location,
    dates: Iterable[str] | None = None,
    min_files: int = 2,
    budget_bytes: int | None = None,
) -> Compacted:
    """Compaction for a caller that holds the writer lock.

    With `budget_bytes`, only a partition's smallest files, up to that many bytes on disk, are
    merged and the rest stay: the writer's automatic compaction then needs memory for a few
    batches, not for a whole day's partition (which grows with the crawl).
    """
    wanted = {f"date={d}" for d in dates} if dates else None
    report = Compacted()
    run = compaction_run_id()
    sizes = partition_sizes(loc) if budget_bytes is not None else {}
    for seq, (part, names) in enumerate(sorted(partition_files(loc).items())):
        if wanted is not None and part not in wanted:
            continue
        others: dict[str, list[str]] = {}
        if budget_bytes is not None:
            chosen = smallest_files(sizes.get(part, {}), budget_bytes)
            others = {d: [n for n in ns if n not in chosen] for d, ns in names.items()}
            names = {d: [n for n in ns if n in chosen] for d, ns in names.items()}
        if max(len(n) for n in names.values()) < min_files:
            continue
        txn = Transaction(loc)
        out = part_name(run, seq)
        report.duplicates_dropped += stage_partition(txn, part, names, out, others)
        report.files_out += len(txn.entries)
        txn.commit()
        report.partitions += 1
        report.files_in += sum(len(n) for n in names.values())
    return report


def compact(
    out: str | os.PathLike[str] | Location, dates: Iterable[str] | None = None, min_files: int = 2
) -> Compacted:
    """Merge every partition (or those of `dates`, YYYY-MM-DD) holding min_files or more files.

    `out` must already be a marsad output (OutputError otherwise): a typo must not become a
    new empty folder reported as compacted.
    """
    loc = require_marsad_output(out)
    with writer_lock(loc):
        return compact_locked(loc, dates, min_files)
