"""Articles for the store, compaction, crash and consumer tests (no network, no models)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from marsad.record import Article, Entity, Failure, FailureKind
from marsad.urls import article_id_for

WORDS = (  # noqa: SIM905
    "قال وزير الخارجية إن المحادثات في بغداد تناولت التعاون الاقتصادي والأمن الإقليمي "
    "وأكد أن الجانبين اتفقا على مواصلة الحوار خلال الأسابيع المقبلة بحضور ممثلين عن الأمم "
    "المتحدة والجامعة العربية وأشار إلى أن الاجتماع المقبل سيعقد في القاهرة"
).split()


def body(i: int) -> str:
    """A distinct text per i (random words seeded by i: no two share many 3-word runs)."""
    return " ".join(random.Random(i).choices(WORDS, k=40)) + f" رقم {i}."


def article(
    i: int,
    *,
    source: str = "s",
    day: int | None = 3,
    hour: int = 8,
    run_id: str = "r1",
    fetched: datetime | None = None,
    text: str | None = None,
    title: str | None = None,
    entity_id: str | None = None,
) -> Article:
    url = f"http://example.test/{source}/{i}"
    text = text if text is not None else "فؤاد حسين في بغداد. " + body(i)
    return Article(
        url=url,
        source=source,
        fetched_at=fetched or datetime(2026, 11, 29, 8, tzinfo=UTC),
        canonical_url=url,
        article_id=article_id_for(url),
        title=title if title is not None else f"خبر {i}",
        published_at=datetime(2026, 1, day, hour, tzinfo=UTC) if day else None,
        language="ar",
        text=text,
        text_norm=text,
        entities=[
            Entity("فؤاد حسين", "فؤاد حسين", "PERS", 0, 9, entity_id),
            Entity("بغداد", "بغداد", "LOC", 13, 18),
        ],
        run_id=run_id,
    )


def failure(
    url: str,
    day: int = 3,
    run_id: str = "r1",
    kind: FailureKind = "article",
    error: str = "HTTP 404",
    source: str = "s",
) -> Failure:
    at = datetime(2026, 1, day, tzinfo=UTC)
    return Failure(url, source, "fetch", error, 1, run_id, at, kind)


def burst(now: datetime, recent: int = 8, entity_id: str = "Q1") -> list[Article]:
    """`recent` articles in the 5 hours before `now` (inside a 6-hour window) and one 3 days
    before (the baseline), each mentioning فؤاد حسين (linked to `entity_id`) and بغداد."""
    arts = [article(i, entity_id=entity_id) for i in range(recent + 1)]
    for i, art in enumerate(arts[:recent]):
        art.published_at = now - timedelta(hours=1 + i % 5)
    arts[recent].published_at = now - timedelta(days=3)
    return arts


def write_old_version(
    path: Path, schema: pa.Schema, rows: list[dict[str, Any]], missing: str, version: str
) -> None:
    """A file as an older marsad wrote it: `schema` without the column `missing`."""
    old = pa.schema([f for f in schema if f.name != missing])
    kept = [{k: v for k, v in r.items() if k != missing} for r in rows]
    table = pa.Table.from_pylist(kept, schema=old.with_metadata({"marsad.schema_version": version}))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


def polars_read(glob: str, schema: pa.Schema) -> pl.DataFrame:
    """Read as the README tells consumers to, for files of several schema versions."""
    return pl.scan_parquet(
        glob,
        hive_partitioning=True,
        schema=pl.Schema(pl.from_arrow(schema.empty_table()).schema),
        missing_columns="insert",
        extra_columns="ignore",
        cast_options=pl.ScanCastOptions(missing_struct_fields="insert"),
    ).collect()
