"""Prefect tasks of the store stage: the ids already stored, and one transaction per batch."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from marsad.record import Article, Failure
from marsad.store import known_ids, store_batch


@task(name="known-ids", cache_policy=NO_CACHE)
def known_ids_task(out: str) -> set[str]:
    return known_ids(out)


@task(name="store", cache_policy=NO_CACHE)
def store_task(
    articles: list[Article],
    failures: list[Failure],
    seen: set[str],
    out: str,
    run_id: str,
    seq: int,
    replace: bool = False,
) -> dict[str, int]:
    """Write a batch (articles, mentions, failures); returns stored counts per source."""
    return store_batch(articles, failures, seen, out, run_id, seq, replace)
