"""The run skeleton every flow shares: open the run, batches in flight, store, finish.

monitor, backfill and retry-failures feed it fetched batches; reprocess feeds it archived
pages. Whatever the source of the batches, each is processed on the task runner (at most
`settings.workers` in flight, so fetching overlaps extraction and tagging) and stored here,
in order, by the flow's single writer.
"""

from __future__ import annotations

import uuid
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from prefect import State, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Cancelled, Completed, Failed

from marsad.alerts import BurstRule, emit_watchlist_hits
from marsad.budget import Budget, stop_requested
from marsad.dataset import prepare_output
from marsad.fetch.http import now
from marsad.flows.progress import RunProgress
from marsad.flows.runners import task_runner
from marsad.linking import load_linker
from marsad.ner.backends import tagger_for
from marsad.record import Article, Failure, FeedItem
from marsad.report_html import newest_report
from marsad.settings import Settings
from marsad.store import settle
from marsad.stories_artifact import top_stories_markdown
from marsad.summary import RunSummary
from marsad.tasks.alerts import bursts_task
from marsad.tasks.fetch import fetch_task
from marsad.tasks.process import process_task
from marsad.tasks.store import known_ids_task, store_task
from marsad.urls import article_id_for, canonicalise

T = TypeVar("T")
Processed = PrefectFuture[tuple[list[Article], list[Failure]]]


def new_run_id() -> str:
    """The Prefect flow run's id, or a fresh one outside a flow run."""
    return flow_run.get_id() or uuid.uuid4().hex


def run_settings(
    settings: Settings | None, allow_private_networks: bool = False, **updates: Any
) -> Settings:
    """The settings a run uses: the flow's `allow_private_networks` parameter opens private
    networks when either it or the settings say so (the one place the two meet)."""
    base = settings or Settings()
    updates["allow_private_networks"] = allow_private_networks or base.allow_private_networks
    return base.model_copy(update=updates)


def check_entity_settings(settings: Settings) -> None:
    """Load the watchlist and tagger now (cached per process): config errors surface early."""
    load_linker(settings.watchlist)
    tagger_for(settings.ner_backend, settings.ner_neural)


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


def batched(items: Iterable[T], n: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


@dataclass
class Batch:
    """Articles ready for the CPU stages, the failures that came with them, and how many
    discovered items (or archived pages) they account for."""

    articles: list[Article]
    failures: list[Failure] = field(default_factory=list)
    items: int = 0


class RunOutcome(Exception):
    """A run that did not complete (every source failed at discovery, or it was stopped);
    `summary` is what it did all the same. A flow called directly raises it."""

    def __init__(self, message: str, summary: dict[str, object]) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class Run:
    """One flow run's identity, options, time budget, counters and the ids already stored."""

    out: str
    settings: Settings
    run_id: str = field(default_factory=new_run_id)
    seen: set[str] = field(default_factory=set)
    budget: Budget = field(default_factory=Budget)
    summary: RunSummary = field(init=False)

    def __post_init__(self) -> None:
        self.summary = RunSummary(self.run_id)


def open_run(
    out: str, settings: Settings, dedup: bool = True, run_seconds: float | None = None
) -> Run:
    """A run over `out` (created if missing); `dedup` loads the ids already stored;
    `run_seconds` (None: no deadline) starts the clock of the run's time budget."""
    prepare_output(out)
    budget = Budget.starting_now(run_seconds, settings.max_host_seconds)
    run = Run(out, settings, budget=budget)
    if dedup:
        run.seen = known_ids_task(out)
    return run


def skip_stored(run: Run, items: list[FeedItem]) -> list[FeedItem]:
    """The items not stored yet; those already stored leave the pending set (a run that
    died between writing a batch and settling it left them there)."""
    todo, stored = new_items(items, run.seen)
    run.summary.add("skipped", (i.source for i in stored))
    settle(run.out, [i.url for i in stored])
    return todo


def deferred(run: Run, items: list[FeedItem]) -> list[Failure]:
    """Failure rows for URLs the run will not reach (out of time or stopped): they stay
    pending, and the next run takes them first."""
    why = run.budget.why_out()
    return [Failure(i.url, i.source, "fetch", why, 0, run.run_id, now(), "article") for i in items]


def fetched_batches(run: Run, todo: list[FeedItem], failures: list[Failure]) -> Iterator[Batch]:
    """Fetch `todo` a batch at a time (in the flow's process); `failures` ride the first one.
    Once the budget is spent (or a stop is asked for) the rest is deferred, unfetched."""
    size = run.settings.batch_size
    for seq, start in enumerate(range(0, len(todo), size)):
        if run.budget.remaining() <= 0:  # the rest in one write, unfetched
            rest = todo[start:]
            yield Batch([], failures + deferred(run, rest), len(rest))
            return
        items = todo[start : start + size]
        fetched, fetch_failed = fetch_task(
            items, run.settings, run.run_id, run.out, seq, run.budget
        )
        yield Batch(fetched, failures + fetch_failed, len(items))
        failures = []
    if failures:  # discovery failures of a run with nothing new to fetch
        yield Batch([], failures, 0)


def process_batches(
    run: Run,
    batches: Iterable[Batch],
    total: int,
    *,
    replace: bool = False,
    alert: bool = True,
    label: str = "marsad run",
) -> None:
    """Process each batch on the task runner and store it here, in order; its articles count
    as `fetched` (from the web, or from the archive).

    `replace` (reprocess) supersedes stored rows; `alert=False` (backfills, reprocessing)
    tallies watchlist hits without emitting events: old news is not news.
    """
    summary = run.summary
    inflight: deque[tuple[int, Processed | None, Batch]] = deque()

    def finish_one() -> None:
        seq, future, batch = inflight.popleft()
        tagged, process_failed = future.result() if future is not None else ([], [])
        failures = batch.failures + process_failed
        stored = store_task(tagged, failures, run.seen, run.out, run.run_id, seq, replace)
        summary.add("stored", stored)
        # Counter subtraction keeps only sources with a positive difference
        summary.add("duplicates", Counter(a.source for a in tagged) - Counter(stored))
        summary.add_failures(failures)
        hits = summary.add_entities(tagged)
        if alert:
            emit_watchlist_hits(hits)
        progress.advance(batch.items)

    with (
        RunProgress(total, f"{label} {run.run_id}") as progress,
        task_runner(run.settings) as runner,
    ):
        for seq, batch in enumerate(batches):
            summary.add("fetched", (a.source for a in batch.articles))
            future = None  # nothing to process: the batch's failures are stored as they are
            if batch.articles:
                future = runner.submit(
                    process_task, {"articles": batch.articles, "settings": run.settings}
                )
            inflight.append((seq, future, batch))
            while len(inflight) >= run.settings.workers:
                finish_one()
        while inflight:
            finish_one()


def finish_run(
    run: Run, rule: BurstRule | None = None, failed: str | None = None
) -> State[dict[str, object]]:
    """Artifacts, burst events (none when `rule` is None) and the run's final state, whose
    message says "stored N, failed M, deferred K": Cancelled after a stop request, Failed
    with the reason `failed` (every source failed at discovery), else Completed."""
    log = get_run_logger()
    summary = run.summary
    create_table_artifact(
        key="run-summary",
        table=summary.rows(artifact=True),
        description=f"marsad run {run.run_id}: per-source counts, totals last",
    )
    create_markdown_artifact(
        key="run-failures",
        markdown=summary.failures_markdown(),
        description=f"marsad run {run.run_id}: every failure reason, per source",
    )
    report = newest_report(run.out)
    create_markdown_artifact(
        key="run-entities",
        markdown=summary.markdown() + (f"\nNewest report: `{report}`\n" if report else ""),
        description=f"marsad run {run.run_id}: top entities and watchlist hits",
    )
    create_markdown_artifact(
        key="run-stories",
        markdown=top_stories_markdown(run.out),
        description=f"marsad run {run.run_id}: the biggest stories of the last 72 hours",
    )
    if rule is not None and rule.enabled:
        found, emitted = bursts_task(run.out, rule)
        log.info("bursts: %d entities above baseline, %d events", found, emitted)
    message = summary.outcome()
    log.info("run %s: %s", run.run_id, message)
    result = summary.as_dict()
    if stop_requested():
        message = f"stopped: {message}"
        return Cancelled(message=message, data=RunOutcome(message, result))
    if failed:
        message = f"{failed} ({message})"
        return Failed(message=message, data=RunOutcome(message, result))
    return Completed(message=message, data=result)
