"""Prefect tasks of the fetch stage: one task run discovers for all sources, one fetches a batch.

Per-URL retries (with Retry-After) happen inside `marsad.fetch.session.Session.get`; these
task-level retries re-run a batch only when the task itself crashed (the event loop died).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from marsad.budget import Budget
from marsad.fetch.articles import fetch_articles
from marsad.fetch.discovery import Discovery, discover_all
from marsad.record import Article, Failure, FeedItem
from marsad.settings import Settings
from marsad.sources import Source

RETRIES = 2
RETRY_DELAYS = exponential_backoff(backoff_factor=2)


@task(
    name="discover",
    cache_policy=NO_CACHE,
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=0.5,
)
def discover_task(
    sources: Sequence[Source],
    settings: Settings,
    run_id: str,
    out: str | None = None,
    budget: Budget | None = None,
) -> Discovery:
    return asyncio.run(discover_all(sources, settings, run_id, out, budget))


@task(
    name="fetch",
    cache_policy=NO_CACHE,
    retries=RETRIES,
    retry_delay_seconds=RETRY_DELAYS,
    retry_jitter_factor=0.5,
)
def fetch_task(
    items: Sequence[FeedItem],
    settings: Settings,
    run_id: str,
    out: str | None = None,
    seq: int = 0,
    budget: Budget | None = None,
) -> tuple[list[Article], list[Failure]]:
    return asyncio.run(fetch_articles(items, settings, run_id, out, f"{seq:05d}", budget))
