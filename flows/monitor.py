"""The monitoring flow: read feeds, fetch, remove boilerplate, normalise, tag, write Parquet."""

from __future__ import annotations

import uuid
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from marsad.alerts import BurstRule, emit_bursts, emit_watchlist_hits, find_bursts, mention_counts
from marsad.dataset import workdir
from marsad.flows.params import AllowPrivate, Group, OutDir, SourcesPath, select_group
from marsad.linking import load_linker
from marsad.record import Failure, FeedItem, article_id_for
from marsad.runner import process_task, task_runner
from marsad.settings import Settings
from marsad.sources import Source, load_sources
from marsad.summary import RunProgress, RunSummary
from marsad.tasks.entities import tagger_for
from marsad.tasks.extract import canonicalise
from marsad.tasks.fetch import discover_task, fetch_task
from marsad.tasks.store import known_ids, store_task


def new_items(items: list[FeedItem], seen: set[str]) -> tuple[list[FeedItem], list[FeedItem]]:
    """Split discovered items into those to fetch and those already stored (or repeated)."""
    todo: list[FeedItem] = []
    skipped: list[FeedItem] = []
    queued: set[str] = set()
    for item in items:
        key = article_id_for(canonicalise(item.url))
        if key in seen or key in queued:
            skipped.append(item)
        else:
            queued.add(key)
            todo.append(item)
    return todo, skipped


def batched(items: Iterable[FeedItem], n: int) -> Iterator[list[FeedItem]]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


def _run_id() -> str:
    return flow_run.get_id() or uuid.uuid4().hex


@flow(name="monitor", log_prints=True)
def monitor(
    sources: SourcesPath,
    out: OutDir,
    allow_private_networks: AllowPrivate = False,
    settings: Settings | None = None,
    group: Group = None,
    bursts: BurstRule | None = None,
) -> dict[str, object]:
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
    settings = (settings or Settings()).model_copy(
        update={
            "allow_private_networks": allow_private_networks
            or (settings.allow_private_networks if settings else False)
        }
    )
    check_entity_settings(settings)  # a bad watchlist or backend fails before any fetching
    run_id, summary, srcs, seen = open_run(sources, group, out)

    found = discover_task(srcs, settings, run_id, out)
    items, failures = found.items, found.failures  # items include the retry queue
    summary.add("discovered", (i.source for i in items))
    summary.add("not_modified", (src for src, _url in found.not_modified))
    todo, skipped = new_items(items, seen)
    summary.add("skipped", (i.source for i in skipped))
    log.info("discovered %d URLs, %d new, %d already stored", len(items), len(todo), len(skipped))

    run_batches(todo, failures, seen, settings, out, run_id, summary)
    return finish_run(summary, out, bursts or BurstRule())


def check_entity_settings(settings: Settings) -> None:
    """Load the watchlist and tagger now (cached per process): config errors surface early."""
    load_linker(settings.watchlist)
    tagger_for(settings.ner_backend, settings.ner_neural)


def open_run(
    sources: str, group: str | None, out: str
) -> tuple[str, RunSummary, list[Source], set[str]]:
    """A run's id, its summary, its sources, and the ids already stored under `out`."""
    run_id = _run_id()
    workdir(out).mkdir(parents=True, exist_ok=True)
    return run_id, RunSummary(run_id), select_group(load_sources(sources), group), known_ids(out)


def run_batches(
    todo: list[FeedItem],
    failures: list[Failure],
    seen: set[str],
    settings: Settings,
    out: str,
    run_id: str,
    summary: RunSummary,
    alert: bool = True,
) -> None:
    """Fetch each batch here, process it on the task runner, store it here, in order.

    At most `settings.workers` batches are in flight, so memory holds a few batches while
    fetching overlaps extraction and tagging. `alert=False` (backfills) tallies watchlist
    hits without emitting events: old news is not news.
    """
    inflight: deque[tuple[int, object, list[Failure], int]] = deque()

    def finish_one() -> None:
        seq, future, batch_failures, n = inflight.popleft()
        tagged, process_failed = future.result()  # type: ignore[attr-defined]
        batch_failures = batch_failures + process_failed
        stored = store_task(tagged, batch_failures, seen, out, run_id, seq)
        summary.add("stored", stored)
        # Counter subtraction keeps only sources with a positive difference
        summary.add("duplicates", Counter(a.source for a in tagged) - Counter(stored))
        summary.add_failures(batch_failures)
        hits = summary.add_entities(tagged)
        if alert:
            emit_watchlist_hits(hits)
        progress.advance(n)

    with RunProgress(len(todo), f"marsad run {run_id}") as progress, task_runner(settings) as tr:
        for seq, batch in enumerate(batched(todo, settings.batch_size)):
            fetched, fetch_failed = fetch_task(list(batch), settings, run_id, out, seq)
            summary.add("fetched", (a.source for a in fetched))
            future = tr.submit(process_task, {"articles": fetched, "settings": settings})
            inflight.append((seq, future, failures + fetch_failed, len(batch)))
            failures = []
            while len(inflight) >= settings.workers:
                finish_one()
        while inflight:
            finish_one()
    if failures:  # feed failures of a run with nothing new to fetch
        store_task([], failures, seen, out, run_id, 0)
        summary.add_failures(failures)


def finish_run(summary: RunSummary, out: str, rule: BurstRule | None) -> dict[str, object]:
    """Artifacts and burst events (none when `rule` is None) at the end of a run."""
    log = get_run_logger()
    run_id = summary.run_id
    create_table_artifact(
        key="run-summary",
        table=summary.rows(),
        description=f"marsad run {run_id}: per-source counts",
    )
    create_markdown_artifact(
        key="run-entities",
        markdown=summary.markdown(),
        description=f"marsad run {run_id}: top entities and watchlist hits",
    )
    if rule is not None and rule.enabled:
        recent, base, names = mention_counts(out, datetime.now(UTC), rule)
        found = find_bursts(recent, base, rule, names)
        emitted = emit_bursts(found, rule)
        log.info("bursts: %d entities above baseline, %d events", len(found), emitted)
    log.info(
        "run %s: stored %d, failed %d", run_id, summary.total("stored"), summary.total("failed")
    )
    return summary.as_dict()
