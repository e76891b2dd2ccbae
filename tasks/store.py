"""Store stage: Parquet datasets under DIR, hive-partitioned by date, written atomically.

Each batch becomes one file per date partition, written under a temporary name
and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from marsad import __version__
from marsad.record import Article, Failure, article_id_for
from marsad.schema import ARTICLES, FAILURES, SCHEMA_VERSION
from marsad.tasks.extract import canonicalise


def _partition_date(art: Article) -> date:
    return (art.published_at or art.fetched_at).date()


def article_rows(articles: Iterable[Article]) -> list[dict]:
    rows = []
    for a in articles:
        rows.append(
            {
                "article_id": a.article_id,
                "url": a.url,
                "canonical_url": a.canonical_url,
                "source": a.source,
                "title": a.title,
                "author": a.author,
                "published_at": a.published_at,
                "fetched_at": a.fetched_at,
                "language": a.language,
                "text": a.text,
                "text_norm": a.text_norm,
                "entities": [asdict(e) for e in a.entities],
                "run_id": a.run_id,
            }
        )
    return rows


def _metadata(schema: pa.Schema) -> pa.Schema:
    return schema.with_metadata(
        {"marsad.schema_version": SCHEMA_VERSION, "marsad.version": __version__}
    )


def write_atomic(table: pa.Table, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _write_partitioned(
    rows_by_date: dict[date, list[dict]],
    schema: pa.Schema,
    root: Path,
    run_id: str,
    seq: int,
    sort_key: str | None,
) -> list[Path]:
    paths = []
    for day, rows in sorted(rows_by_date.items()):
        table = pa.Table.from_pylist(rows, schema=_metadata(schema))
        if sort_key:
            table = table.sort_by([(sort_key, "ascending")])
        path = root / f"date={day.isoformat()}" / f"part-{run_id}-{seq:05d}.parquet"
        paths.append(write_atomic(table, path))
    return paths


def write_articles(articles: Sequence[Article], out: Path, run_id: str, seq: int) -> list[Path]:
    by_date: dict[date, list[dict]] = defaultdict(list)
    for art, row in zip(articles, article_rows(articles), strict=True):
        by_date[_partition_date(art)].append(row)
    return _write_partitioned(
        by_date, ARTICLES, Path(out) / "articles", run_id, seq, "published_at"
    )


def write_failures(failures: Sequence[Failure], out: Path, run_id: str, seq: int) -> list[Path]:
    by_date: dict[date, list[dict]] = defaultdict(list)
    for f in failures:
        by_date[f.at.date()].append(asdict(f))
    return _write_partitioned(by_date, FAILURES, Path(out) / "failures", run_id, seq, None)


def known_ids(out: Path) -> set[str]:
    """Ids of stored articles, by canonical and by discovered URL, for dedup before fetching."""
    root = Path(out) / "articles"
    if not root.exists():
        return set()
    dataset = ds.dataset(root, format="parquet", partitioning="hive", exclude_invalid_files=True)
    ids: set[str] = set()
    for batch in dataset.to_batches(columns=["article_id", "url"]):
        ids.update(batch.column("article_id").to_pylist())
        ids.update(article_id_for(canonicalise(u)) for u in batch.column("url").to_pylist())
    return ids


def store_articles(
    articles: Sequence[Article], seen: set[str], out: Path, run_id: str, seq: int
) -> tuple[list[Article], list[Path]]:
    """Write the articles not seen before; `seen` is updated, so a run never stores one twice."""
    fresh = []
    for art in articles:
        if art.article_id in seen:
            continue
        seen.add(art.article_id)
        fresh.append(art)
    paths = write_articles(fresh, out, run_id, seq) if fresh else []
    return fresh, paths


# --- Prefect wrapper ------------------------------------------------------------------------

from prefect import task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402


@task(name="store", cache_policy=NO_CACHE)
def store_task(
    articles: list[Article],
    failures: list[Failure],
    seen: set[str],
    out: str,
    run_id: str,
    seq: int,
) -> dict[str, int]:
    """Write a batch; returns stored counts per source, never the payload."""
    stored, _paths = store_articles(articles, seen, Path(out), run_id, seq)
    if failures:
        write_failures(failures, Path(out), run_id, seq)
    return dict(Counter(a.source for a in stored))
