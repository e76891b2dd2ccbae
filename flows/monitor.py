"""The monitoring flow: read feeds, fetch, remove boilerplate, normalise, tag, write Parquet."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from marsad.record import FeedItem, article_id_for
from marsad.settings import Settings
from marsad.sources import load_sources
from marsad.summary import RunSummary
from marsad.tasks.entities import tag_task
from marsad.tasks.extract import canonicalise, extract_task
from marsad.tasks.fetch import discover_task, fetch_task
from marsad.tasks.normalise import normalise_task
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
    sources: str,
    out: str,
    allow_private_networks: bool = False,
    settings: Settings | None = None,
) -> dict[str, object]:
    """One monitoring run over every source in the sources file."""
    log = get_run_logger()
    settings = (settings or Settings()).model_copy(
        update={
            "allow_private_networks": allow_private_networks
            or (settings.allow_private_networks if settings else False)
        }
    )
    run_id = _run_id()
    summary = RunSummary(run_id)
    srcs = load_sources(sources)
    Path(out).mkdir(parents=True, exist_ok=True)
    seen = known_ids(Path(out))

    found = discover_task(srcs, settings, run_id, out)
    items, failures = found.items, found.failures  # items include the retry queue
    summary.add("discovered", (i.source for i in items))
    summary.add("not_modified", (src for src, _url in found.not_modified))
    todo, skipped = new_items(items, seen)
    summary.add("skipped", (i.source for i in skipped))
    log.info("discovered %d URLs, %d new, %d already stored", len(items), len(todo), len(skipped))

    for seq, batch in enumerate(batched(todo, settings.batch_size)):
        fetched, fetch_failed = fetch_task(list(batch), settings, run_id, out, seq)
        summary.add("fetched", (a.source for a in fetched))
        extracted, extract_failed = extract_task(fetched)
        normalised = normalise_task(extracted, settings.normalise_level)
        tagged, tag_failed = tag_task(normalised, settings.normalise_level)
        batch_failures = failures + fetch_failed + extract_failed + tag_failed
        failures = []
        stored = store_task(tagged, batch_failures, seen, out, run_id, seq)
        summary.add("stored", stored)
        summary.add("duplicates", {s: n for s, n in _dups(tagged, stored).items() if n})
        summary.add_failures(batch_failures)
    if failures:  # feed failures of a run with nothing new to fetch
        store_task([], failures, seen, out, run_id, 0)
        summary.add_failures(failures)

    create_table_artifact(
        key="run-summary",
        table=summary.rows(),
        description=f"marsad run {run_id}: per-source counts",
    )
    log.info(
        "run %s: stored %d, failed %d", run_id, summary.total("stored"), summary.total("failed")
    )
    return summary.as_dict()


def _dups(tagged: list, stored: dict[str, int]) -> dict[str, int]:
    per: dict[str, int] = {}
    for a in tagged:
        per[a.source] = per.get(a.source, 0) + 1
    return {s: n - stored.get(s, 0) for s, n in per.items()}
