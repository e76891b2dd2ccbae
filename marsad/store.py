"""Store stage: one transaction per batch through marsad.writer, and the ids already stored.

See marsad/writer.py for what a batch write does (lock, dedup by article_id, dup groups,
atomic partition swaps, re-processing, compaction of crowded partitions).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

from marsad.budget import is_deferred
from marsad.dataset import list_partitions, read_file, resolve
from marsad.record import Article, Failure
from marsad.state import StateStore
from marsad.urls import article_id_for, canonicalise
from marsad.writer import MAX_FILES, Writer, writer_for

__all__ = [
    "MAX_FILES",
    "Writer",
    "known_ids",
    "settle",
    "store_articles",
    "store_batch",
    "write_failures",
]


def store_batch(
    articles: Sequence[Article],
    failures: Sequence[Failure],
    seen: set[str],
    out: str | os.PathLike[str],
    run_id: str,
    seq: int,
    replace: bool = False,
) -> dict[str, int]:
    """Write a batch (articles, mentions, failures) as one transaction: the articles not
    stored yet (all of them with `replace`); `seen` is updated. Stored counts per source."""
    stored, _paths = writer_for(out).store(articles, failures, run_id, seq, replace)
    seen.update(a.article_id for a in articles if a.article_id)
    settle(out, [a.url for a in articles] + [f.url for f in failures if not is_deferred(f.error)])
    return dict(Counter(a.source for a in stored))


def settle(out: str | os.PathLike[str], urls: Sequence[str]) -> None:
    """These URLs' rows are durable now: they leave the pending set (deferred ones stay)."""
    if urls:
        with StateStore.for_output(out) as state:
            state.settle(urls)


def store_articles(
    articles: Sequence[Article], seen: set[str], out: str | os.PathLike[str], run_id: str, seq: int
) -> tuple[list[Article], list[str]]:
    """The articles alone (tests, benchmarks): what was stored, and the files written."""
    fresh, paths = writer_for(out).store(articles, [], run_id, seq)
    seen.update(a.article_id for a in articles if a.article_id)
    return fresh, paths


def write_failures(
    failures: Sequence[Failure], out: str | os.PathLike[str], run_id: str, seq: int
) -> list[str]:
    return writer_for(out).store([], failures, run_id, seq)[1]


def known_ids(out: str | os.PathLike[str]) -> set[str]:
    """Ids of stored articles, by canonical and by discovered URL, for dedup before fetching."""
    loc = resolve(out)
    ids: set[str] = set()
    for infos in list_partitions(loc, "articles").values():
        for info in infos:
            table = read_file(loc, info.path, ["article_id", "url"])
            ids.update(table.column("article_id").to_pylist())
            ids.update(article_id_for(canonicalise(u)) for u in table.column("url").to_pylist())
    return ids
