"""Ingest: WARC files (CC-NEWS, any crawl, marsad's own archive) through the live stages.

Each WARC file is read a chunk at a time on the task runner (threads, processes or Dask,
as `settings.runner` says), at most `settings.workers` files at once, each file's chunks in
order; every chunk is stored here, by the flow's single writer, and only then is the file's
offset committed (`marsad.ingest_state`): a killed ingest resumes at the first chunk not
stored. Articles already stored are skipped, so a second ingest of a file adds nothing.
Old news is not news: no watchlist events are emitted.
"""

from __future__ import annotations

import time
from collections import Counter, deque

from prefect import State, flow, get_run_logger
from prefect.futures import PrefectFuture

from marsad.budget import stop_requested
from marsad.flows.params import OutDir
from marsad.flows.progress import RunProgress
from marsad.flows.run import Run, check_entity_settings, finish_run, open_run, run_settings
from marsad.flows.runners import task_runner
from marsad.ingest import Chunk
from marsad.ingest_read import expand
from marsad.ingest_select import ALREADY_STORED, Selection
from marsad.ingest_state import IngestState
from marsad.record import Article
from marsad.settings import Settings
from marsad.sources import load_sources
from marsad.tasks.ingest import ingest_chunk_task
from marsad.tasks.store import store_task
from marsad.urls import article_id_for, canonicalise


def _new(run: Run, articles: list[Article]) -> tuple[list[Article], list[Article]]:
    """(not stored before, stored before), by canonical and by record URL, as live runs
    judge; the canonical URL is the page's own, known only after extraction."""
    fresh: list[Article] = []
    before: list[Article] = []
    for a in articles:
        keys = {a.article_id, article_id_for(canonicalise(a.url))}
        (before if keys & run.seen else fresh).append(a)
    return fresh, before


def store_chunk(run: Run, chunk: Chunk, seq: int) -> None:
    """Store one chunk in one transaction, then count it."""
    summary = run.summary
    fresh, before = _new(run, chunk.articles)
    summary.add_skips({**chunk.skips, ALREADY_STORED: len(before)})
    summary.add("fetched", (a.source for a in chunk.articles))
    started = time.perf_counter()
    stored = store_task(fresh, chunk.failures, run.seen, run.out, run.run_id, seq)
    summary.add_seconds("write", time.perf_counter() - started)
    summary.add_seconds("read", chunk.read_s)
    summary.add_seconds("process", chunk.process_s)
    summary.add("stored", stored)
    summary.add("skipped", (a.source for a in before))
    summary.add("duplicates", Counter(a.source for a in fresh) - Counter(stored))
    summary.add_failures(chunk.failures)
    summary.add_entities(fresh)


@flow(name="ingest", log_prints=True)
def ingest(
    warcs: list[str],
    out: OutDir,
    sources: str | None = None,
    language: str | None = "ar",
    settings: Settings | None = None,
) -> State[dict[str, object]]:
    """Store the HTML articles of WARC files (CC-NEWS or any crawl) like a live run would.

    Args:
        warcs: WARC files: local paths, globs, or URIs (file://, s3://, gs://, https://);
            .warc or .warc.gz.
        out: Output directory: articles already stored there are skipped.
        sources: Sources YAML file: a record belongs to the source whose hosts (feeds,
            sitemaps, homepage, urls, domains) it is on, others are skipped; empty = each
            record's registered domain is its source.
        language: Keep only pages detected in this language (ISO 639-1); empty = all.
        settings: Pipeline options (batch size = pages per chunk, runner, workers, NER).
    """
    log = get_run_logger()
    settings = run_settings(settings)
    check_entity_settings(settings)
    selection = Selection.of(load_sources(sources) if sources else None, language)
    files = expand(warcs)
    run = open_run(out, settings)
    with IngestState(out) as state:
        todo = [(uri, state.position(uri)) for uri in files]
        queue = deque((uri, offset) for uri, (offset, done) in todo if not done)
        log.info("ingest: %d WARC files, %d to read", len(files), len(queue))
        read_files(run, state, queue, selection)
    log.info("ingested %d pages", run.summary.total("fetched"))
    return finish_run(run)


def read_files(
    run: Run, state: IngestState, queue: deque[tuple[str, int]], selection: Selection
) -> None:
    """Files a chunk at a time, `workers` files in flight; chunks are stored as they come
    back, in submission order (a file's chunks in file order)."""
    settings = run.settings
    inflight: deque[PrefectFuture[Chunk]] = deque()
    seq = 0
    with (
        RunProgress(len(queue), f"marsad ingest {run.run_id}") as progress,
        task_runner(settings) as runner,
    ):

        def submit(uri: str, offset: int) -> None:
            params = {"uri": uri, "offset": offset, "selection": selection}
            params |= {"settings": settings, "run_id": run.run_id}
            inflight.append(runner.submit(ingest_chunk_task, params))

        while queue and len(inflight) < settings.workers:
            submit(*queue.popleft())
        while inflight:
            chunk = inflight.popleft().result()
            store_chunk(run, chunk, seq)
            seq += 1
            if chunk.open_failed:  # offset unchanged: the next ingest tries again
                progress.advance(1)
            elif chunk.next_offset is None:
                state.commit(
                    chunk.uri, None, chunk.failures[-1].error if chunk.unreadable else None
                )
                progress.advance(1)
            else:
                state.commit(chunk.uri, chunk.next_offset)
                if not stop_requested():  # Ctrl-C: the chunks in flight are stored, no more
                    submit(chunk.uri, chunk.next_offset)
            while queue and len(inflight) < settings.workers and not stop_requested():
                submit(*queue.popleft())
