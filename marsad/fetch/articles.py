"""Fetching a batch of article URLs: HTML only, transient failures to the retry queue.

Each URL runs within the run's budget and its host's share of it (`marsad.budget`): one
that is not reached in time is recorded as deferred and stays pending for the next run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path

from marsad.budget import HOST_BUDGET, Budget, HostClock, within
from marsad.charset import decode
from marsad.fetch.http import FetchError, host_key, is_html, now
from marsad.fetch.session import Session
from marsad.record import Article, Failure, FeedItem
from marsad.settings import Settings


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


async def fetch_articles(
    items: Iterable[FeedItem],
    settings: Settings,
    run_id: str,
    out: str | Path | None = None,
    label: str = "",
    budget: Budget | None = None,
) -> tuple[list[Article], list[Failure]]:
    """Fetch a batch of article URLs concurrently within the politeness limits.

    With `out`, transient failures join the retry queue (quarantined after
    `retry_max_runs` runs), every response is archived to WARC, and each host's time
    adds to the run's tally (`budget.host_seconds` is per run, not per batch).
    """
    budget = budget or Budget()
    articles: list[Article] = []
    failures: list[Failure] = []
    async with Session(settings, run_id, out, label) as session:
        state = session.state
        clock = HostClock(state.host_seconds(run_id) if state else {}, budget.host_seconds)

        def record(item: FeedItem, reason: str, attempts: int) -> None:
            failures.append(
                Failure(item.url, item.source, "fetch", reason, attempts, run_id, now(), "article")
            )

        def failed(item: FeedItem, reason: str, attempts: int, transient: bool = False) -> None:
            if state is not None:
                if transient:
                    q = state.queue_retry(item, attempts, reason, settings.retry_max_runs)
                    attempts = q.attempts
                    reason += (
                        f"; quarantined after {q.runs} runs"
                        if q.quarantined
                        else f"; queued for the next run ({q.runs}/{settings.retry_max_runs})"
                    )
                else:
                    attempts += state.clear_retry(item.url)
            record(item, reason, attempts)

        async def fetch(item: FeedItem) -> None:
            try:
                resp = await session.get(item.url, item.source)
            except FetchError as exc:
                failed(item, exc.reason, exc.attempts, exc.transient)
                return
            if not is_html(resp.content_type, resp.body):
                mime = resp.content_type.split(";")[0].strip() or "unknown type"
                failed(item, f"not HTML: {mime}", resp.attempts)
                return
            html = decode(resp.body, resp.content_type)
            earlier = state.clear_retry(item.url) if state is not None else 0
            articles.append(
                Article(
                    url=item.url,
                    source=item.source,
                    fetched_at=now(),
                    html=html,
                    final_url=resp.final_url,
                    feed=item,
                    attempts=resp.attempts + earlier,
                    run_id=run_id,
                )
            )

        async def one(item: FeedItem) -> None:
            if state is not None and (q := state.quarantined(item.url)):
                reason = f"quarantined after {q.runs} runs: {q.last_error}"
                record(item, reason, q.attempts)
                return
            host = host_key(item.url)
            host_end = clock.deadline(host)
            limit = Budget(_min(budget.deadline, host_end))

            def why() -> str:  # the host's share ran out while the run still had time
                host_out = host_end is not None and time.time() >= host_end
                return HOST_BUDGET if host_out and budget.remaining() > 0 else budget.why_out()

            if limit.remaining() <= 0:  # not started: nothing of it is in flight
                record(item, why(), 0)
                return
            clock.enter(host)
            try:
                if not await within(limit, fetch(item)):
                    record(item, why(), 1)
            except Exception as exc:  # a bug or a library surprise must not sink the batch
                failed(item, f"unexpected {type(exc).__name__}: {exc}", 1)
            finally:
                clock.leave(host)

        try:
            await asyncio.gather(*(one(i) for i in items))
        finally:
            if state is not None and clock.now_spent:
                state.add_host_seconds(run_id, clock.now_spent)
    return articles, failures
