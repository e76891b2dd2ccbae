"""Fetching a batch of article URLs: HTML only, transient failures to the retry queue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from marsad.charset import decode
from marsad.fetch.http import FetchError, is_html, now
from marsad.fetch.session import Session
from marsad.record import Article, Failure, FeedItem
from marsad.settings import Settings


async def fetch_articles(
    items: Iterable[FeedItem],
    settings: Settings,
    run_id: str,
    out: str | Path | None = None,
    label: str = "",
) -> tuple[list[Article], list[Failure]]:
    """Fetch a batch of article URLs concurrently within the politeness limits.

    With `out`, transient failures join the retry queue (quarantined after
    `retry_max_runs` runs) and every response is archived to WARC.
    """
    articles: list[Article] = []
    failures: list[Failure] = []
    async with Session(settings, run_id, out, label) as session:
        state = session.state

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
            failures.append(
                Failure(item.url, item.source, "fetch", reason, attempts, run_id, now(), "article")
            )

        async def one(item: FeedItem) -> None:
            if state is not None and (q := state.quarantined(item.url)):
                failures.append(
                    Failure(
                        item.url,
                        item.source,
                        "fetch",
                        f"quarantined after {q.runs} runs: {q.last_error}",
                        q.attempts,
                        run_id,
                        now(),
                        "article",
                    )
                )
                return
            try:
                resp = await session.get(item.url, item.source)
            except FetchError as exc:
                failed(item, exc.reason, exc.attempts, exc.transient)
                return
            except Exception as exc:  # a bug or a library surprise must not sink the batch
                failed(item, f"unexpected {type(exc).__name__}: {exc}", 1)
                return
            if not is_html(resp.content_type, resp.body):
                mime = resp.content_type.split(";")[0].strip() or "unknown type"
                failed(item, f"not HTML: {mime}", resp.attempts)
                return
            earlier = state.clear_retry(item.url) if state is not None else 0
            articles.append(
                Article(
                    url=item.url,
                    source=item.source,
                    fetched_at=now(),
                    html=decode(resp.body, resp.content_type),
                    final_url=resp.final_url,
                    feed=item,
                    attempts=resp.attempts + earlier,
                    run_id=run_id,
                )
            )

        await asyncio.gather(*(one(i) for i in items))
    return articles, failures
