"""Retry failures: fetch again the URLs that failed in one run or in a time window.

Failures are read from DIR/failures (through `marsad.dataset`, so any output URI works).
By the failure's `kind`, a failed feed, sitemap or homepage is discovered again (its new
items are fetched); a failed article URL is fetched again. URLs stored since
they failed are skipped, so retrying twice stores nothing twice. Each retry is a new run:
its own failures land in DIR/failures under its own run id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl
from prefect import State, flow, get_run_logger

from marsad.dataset import read_dataset
from marsad.flows.params import AllowPrivate, DateWindow, OutDir, as_utc
from marsad.flows.run import (
    fetched_batches,
    finish_run,
    open_run,
    process_batches,
    run_settings,
    skip_stored,
)
from marsad.record import Failure, FeedItem
from marsad.settings import Settings
from marsad.sources import Source
from marsad.tasks.fetch import discover_task

DISCOVERY_KINDS = {"feed": "feeds", "sitemap": "sitemaps", "homepage": "homepage"}


@dataclass
class RetryPlan:
    """What to retry: article URLs to fetch, and feeds/sitemaps/homepages to discover again."""

    items: list[FeedItem] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)


def read_failures(out: str, run_id: str | None, window: DateWindow | None) -> pl.DataFrame:
    """The failure rows of a run and/or a window, latest per URL; empty frame when none."""
    since = as_utc(window.since) if window and window.since else None
    table = read_dataset(out, "failures", since=since.date() if since else None)
    lf = pl.DataFrame(table).lazy()
    if run_id:
        lf = lf.filter(pl.col("run_id") == run_id)
    if since is not None:
        lf = lf.filter(pl.col("at") >= since)
    if window and window.until:
        lf = lf.filter(pl.col("at") < as_utc(window.until))
    return (
        lf.select("url", "source", "error", "kind", "at")
        .sort("at")
        .unique(subset=["url"], keep="last", maintain_order=True)
        .collect()
    )


def failure_kind(row: dict[str, Any]) -> str:
    """A failure row's kind. Rows from files before schema version 3 have no `kind` (it
    reads as null): for them, the old way, the text before the first colon of the error
    (`feed: HTTP 404` -> feed); anything else there was an article."""
    kind = row.get("kind")
    if kind is not None:
        return str(kind)
    prefix = str(row["error"]).split(":", 1)[0]
    return prefix if prefix in DISCOVERY_KINDS else "article"


def plan_retry(failures: pl.DataFrame) -> RetryPlan:
    """Failed feeds, sitemaps and homepages become one-off sources to discover again; failed
    articles are fetched again. A robots.txt failure needs no retry of its own: robots.txt
    is read again whenever its host is next visited."""
    plan = RetryPlan()
    per_source: dict[str, dict[str, list[str]]] = {}
    for row in failures.iter_rows(named=True):
        kind = failure_kind(row)
        if kind in DISCOVERY_KINDS:
            per_source.setdefault(row["source"], {}).setdefault(kind, []).append(row["url"])
        elif kind != "robots":
            plan.items.append(FeedItem(url=row["url"], source=row["source"]))
    for name, kinds in sorted(per_source.items()):
        homepages = kinds.get("homepage", [])
        for i, home in enumerate(homepages or [None]):
            plan.sources.append(
                Source(
                    name=name,
                    feeds=kinds.get("feed", []) if i == 0 else [],
                    sitemaps=kinds.get("sitemap", []) if i == 0 else [],
                    homepage=home,
                )
            )
    return plan


@flow(name="retry-failures", log_prints=True)
def retry_failures(
    out: OutDir,
    run_id: str | None = None,
    window: DateWindow | None = None,
    allow_private_networks: AllowPrivate = False,
    settings: Settings | None = None,
) -> State[dict[str, object]]:
    """Fetch again what failed in a run (give its id) or in a time window (give since/until).

    Args:
        out: Output directory whose failures/ to read and where results go.
        run_id: The flow run id whose failures to retry (shown on the run's page).
        window: Failures recorded in [since, until) UTC; combine with run_id or use alone.
        allow_private_networks: Allow loopback and private addresses (an intranet, a test
            site); link-local addresses stay refused.
        settings: Fetch and pipeline options; empty = the defaults.
    """
    if not run_id and not (window and (window.since or window.until)):
        raise ValueError("give a run_id, a window (since/until), or both")
    log = get_run_logger()
    settings = run_settings(settings, allow_private_networks)
    run = open_run(out, settings, run_seconds=settings.max_run_seconds)
    failed = read_failures(out, run_id, window)
    plan = plan_retry(failed)
    items = list(plan.items)
    failures: list[Failure] = []
    if plan.sources:
        found = discover_task(plan.sources, settings, run.run_id, None)
        items += found.items
        failures = found.failures
    run.summary.add("discovered", (i.source for i in items))
    todo = skip_stored(run, items)
    log.info(
        "retrying %d failures: %d URLs to fetch, %d sources to rediscover, %d already stored",
        failed.height,
        len(todo),
        len(plan.sources),
        len(items) - len(todo),
    )
    batches = fetched_batches(run, todo, failures)
    process_batches(run, batches, len(todo), label="marsad retry-failures")
    return finish_run(run)
