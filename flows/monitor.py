"""The monitoring flow: read feeds, fetch, remove boilerplate, normalise, tag, write Parquet."""

from __future__ import annotations

from prefect import State, flow, get_run_logger

from marsad.alerts import BurstRule
from marsad.budget import DEFAULT_RUN_SECONDS
from marsad.flows.params import AllowPrivate, Group, OutDir, SourcesPath, select_group
from marsad.flows.run import (
    check_entity_settings,
    fetched_batches,
    finish_run,
    open_run,
    process_batches,
    run_settings,
    skip_stored,
)
from marsad.settings import Settings
from marsad.sources import load_sources
from marsad.tasks.fetch import discover_task


@flow(name="monitor", log_prints=True)
def monitor(
    sources: SourcesPath,
    out: OutDir,
    allow_private_networks: AllowPrivate = False,
    settings: Settings | None = None,
    group: Group = None,
    bursts: BurstRule | None = None,
) -> State[dict[str, object]]:
    """One monitoring run over the sources in the sources file (or one schedule group of them).

    Writes new articles and failures under `out`, a run summary, an entities/watchlist report
    and a progress bar as artifacts, and Prefect events for watchlist hits and mention bursts.

    Args:
        sources: Path of the sources YAML file, as seen by the machine that runs the flow.
        out: Output directory: articles/, failures/ and raw/ (the WARC archive) go under it.
        allow_private_networks: Allow loopback and private addresses (an intranet, a test
            site); link-local addresses stay refused.
        settings: Fetch and pipeline options (timeouts, politeness, batch size, runner);
            empty = the defaults.
        group: Only the sources whose `group` key is this (e.g. wires); empty = all sources.
        bursts: When a jump in an entity's mentions raises a `marsad.entity.burst` event;
            empty = the defaults.
    """
    log = get_run_logger()
    settings = run_settings(settings, allow_private_networks)
    check_entity_settings(settings)  # a bad watchlist or backend fails before any fetching
    srcs = select_group(load_sources(sources), group)
    run = open_run(out, settings, run_seconds=settings.max_run_seconds or DEFAULT_RUN_SECONDS)

    found = discover_task(srcs, settings, run.run_id, out, run.budget)
    items = found.items  # pending URLs first; they include the retry queue
    run.summary.add("discovered", (i.source for i in items))
    run.summary.add("not_modified", (src for src, _url in found.not_modified))
    todo = skip_stored(run, items)
    log.info("discovered %d URLs, %d new", len(items), len(todo))

    process_batches(run, fetched_batches(run, todo, found.failures), len(todo))
    return finish_run(run, bursts or BurstRule(), failed=found.all_failed())
