"""Backfill: the sources' articles published in a past date range, through sitemaps and feeds.

Discovery runs with its age windows off and without the conditional-GET state, so every
sitemap entry and feed item is seen; the items whose date falls in [since, until) are then
fetched and processed like a monitor run (already stored articles are skipped).
Sitemaps (listed in the sources file, or found through robots.txt from `homepage`) reach
back as far as the publisher's archive does; feeds reach back only as far as the feed does.
"""

from __future__ import annotations

from datetime import date

from prefect import State, flow, get_run_logger

from marsad.flows.params import AllowPrivate, Group, OutDir, SourcesPath, as_utc, select_group
from marsad.flows.run import (
    fetched_batches,
    finish_run,
    open_run,
    process_batches,
    run_settings,
    skip_stored,
)
from marsad.record import FeedItem
from marsad.settings import Settings
from marsad.sources import load_sources
from marsad.tasks.fetch import discover_task


def in_range(
    items: list[FeedItem], since: date, until: date, include_undated: bool
) -> tuple[list[FeedItem], list[FeedItem]]:
    """Split items into those dated in [since, until) (plus undated ones if asked) and the rest."""
    lo, hi = as_utc(since), as_utc(until)
    keep: list[FeedItem] = []
    drop: list[FeedItem] = []
    for item in items:
        when = item.feed_published_at
        if (when is None and include_undated) or (when is not None and lo <= as_utc(when) < hi):
            keep.append(item)
        else:
            drop.append(item)
    return keep, drop


@flow(name="backfill", log_prints=True)
def backfill(
    sources: SourcesPath,
    out: OutDir,
    since: date,
    until: date,
    allow_private_networks: AllowPrivate = False,
    group: Group = None,
    include_undated: bool = False,
    settings: Settings | None = None,
) -> State[dict[str, object]]:
    """Fetch and process the articles the sources published between two dates.

    Args:
        sources: Path of the sources YAML file, as seen by the machine that runs the flow.
        out: Output directory (the monitor's): already stored articles are skipped.
        since: First publication date to include (UTC midnight).
        until: Date after the last one to include (exclusive, UTC midnight).
        allow_private_networks: Allow loopback and private addresses (an intranet, a test
            site); link-local addresses stay refused.
        group: Only the sources whose `group` key is this; empty = all sources.
        include_undated: Also take sitemap/feed entries that carry no date.
        settings: Fetch and pipeline options; empty = the defaults.
    """
    if since >= until:
        raise ValueError(f"since ({since}) must be before until ({until})")
    log = get_run_logger()
    settings = run_settings(
        settings, allow_private_networks, discovery_window_days=None, feed_window_days=None
    )
    srcs = select_group(load_sources(sources), group)
    run = open_run(out, settings, run_seconds=settings.max_run_seconds)
    # No `out`: no conditional GET (a 304 would hide the archive) and no retry queue.
    found = discover_task(srcs, settings, run.run_id, None)
    dated, outside = in_range(found.items, since, until, include_undated)
    run.summary.add("discovered", (i.source for i in dated))
    todo = skip_stored(run, dated)
    log.info(
        "backfill %s..%s: %d entries in range (%d outside or undated), %d new",
        since,
        until,
        len(dated),
        len(outside),
        len(todo),
    )
    batches = fetched_batches(run, todo, found.failures)
    process_batches(run, batches, len(todo), alert=False, label="marsad backfill")
    return finish_run(run)
