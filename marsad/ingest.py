"""One chunk of a WARC file, read and processed where the task runner puts it.

A chunk is the unit of `marsad ingest`'s parallel work: read a file from a record offset
until `batch_size` pages are selected (`marsad.ingest_select`), then run the live run's
stages on them through `marsad.process.process_batch` (extract, the language gate, normalise,
tag and link), the same call a live run's task makes. The flow stores each chunk with
its single writer and commits the offset the chunk ended at (`marsad.ingest_state`).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from marsad.ingest_read import WarcReadError, iter_records, open_at
from marsad.ingest_select import OTHER_LANGUAGE, Selection, select
from marsad.process import process_batch
from marsad.record import Article, Failure
from marsad.settings import Settings

READ_SOURCE = "warc"  # the failures' source of a file that cannot be read


@dataclass
class Chunk:
    """What a chunk made of its records. `next_offset` is where the next chunk starts, None
    when the file is finished; `unreadable` says the file ended on a corrupt record (no
    use reading it again), `open_failed` that it could not be opened (try again later)."""

    uri: str
    offset: int
    next_offset: int | None
    articles: list[Article] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skips: Counter[str] = field(default_factory=Counter)
    records: int = 0
    unreadable: bool = False
    open_failed: bool = False
    read_s: float = 0.0
    process_s: float = 0.0


def _failure(uri: str, error: str, run_id: str) -> Failure:
    return Failure(uri, READ_SOURCE, "fetch", error, 1, run_id, datetime.now(UTC))


def read_chunk(uri: str, offset: int, selection: Selection, run_id: str, limit: int) -> Chunk:
    """Records from `offset` until `limit` pages are selected (the next record's offset is
    where the chunk ends) or the file ends; a corrupt record ends the file with a failure."""
    started = time.perf_counter()
    chunk = Chunk(uri, offset, None)
    try:
        with open_at(uri, offset) as fh:
            for record in iter_records(fh):
                if len(chunk.articles) >= limit:
                    chunk.next_offset = record.offset
                    break
                chunk.records += 1
                page = select(record, selection, run_id)
                if isinstance(page, str):
                    chunk.skips[page] += 1
                else:
                    chunk.articles.append(page)
    except WarcReadError as exc:
        chunk.unreadable = True
        chunk.failures.append(_failure(uri, str(exc), run_id))
    except (OSError, httpx.HTTPError) as exc:  # missing, refused, HTTP 404: not the data's fault
        chunk.open_failed = True
        chunk.failures.append(_failure(uri, f"cannot read at offset {offset}: {exc}", run_id))
    chunk.read_s = time.perf_counter() - started
    return chunk


def process_pages(
    articles: list[Article], settings: Settings, language: str | None
) -> tuple[list[Article], list[Failure], int]:
    """The live pipeline's CPU stages with its language gate: (tagged, failed, pages of
    another language, i.e. the ones that ended as neither)."""
    tagged, failed = process_batch(articles, settings, language)
    return tagged, failed, len(articles) - len(tagged) - len(failed)


def ingest_chunk(
    uri: str, offset: int, selection: Selection, settings: Settings, run_id: str
) -> Chunk:
    """Read one chunk and run the CPU stages on its pages: what a task run does."""
    chunk = read_chunk(uri, offset, selection, run_id, settings.batch_size)
    started = time.perf_counter()
    tagged, failed, other = process_pages(chunk.articles, settings, selection.language)
    chunk.articles = tagged
    chunk.failures = failed + chunk.failures
    if other:
        chunk.skips[OTHER_LANGUAGE] += other
    chunk.process_s = time.perf_counter() - started
    return chunk
