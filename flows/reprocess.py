"""Reprocess: extract → normalise → tag → store again from the WARC archive, fetching nothing.

What one runs after a model, watchlist or extractor update. Responses come from
DIR/raw/*.warc.gz (`marsad.warc.iter_responses`), oldest first, streamed in batches; each
stored article supersedes its earlier row and mentions (`store_task(..., replace=True)`).
Only 2xx HTML responses are articles; feeds and sitemaps in the archive are passed over.
The feed's date of an item is not in the archive, so a page without a date of its own gets
its fetch date.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice

from prefect import flow, get_run_logger

from marsad.charset import decode
from marsad.flows.monitor import _run_id, finish_run
from marsad.flows.params import DateWindow, OutDir, as_utc
from marsad.record import Article
from marsad.runner import process_task, task_runner
from marsad.settings import Settings
from marsad.summary import RunProgress, RunSummary
from marsad.tasks.fetch import _is_html
from marsad.tasks.store import store_task
from marsad.warc import ArchivedResponse, iter_responses, raw_dir


def archived_articles(
    responses: Iterable[ArchivedResponse], run_id: str, sources: set[str] | None = None
) -> Iterator[Article]:
    """Archived 2xx HTML responses as fetched articles, first copy of each URL only."""
    done: set[str] = set()
    for r in responses:
        if not 200 <= r.status < 300 or (sources and r.source not in sources):
            continue
        ctype = r.headers.get("content-type", "")
        if not _is_html(ctype, r.body) or r.url in done:
            continue
        done.add(r.url)
        yield Article(
            url=r.url,
            source=r.source,
            fetched_at=r.fetched_at,
            html=decode(r.body, ctype),
            final_url=r.final_url,
            run_id=run_id,
        )


def _batches(articles: Iterable[Article], n: int) -> Iterator[list[Article]]:
    it = iter(articles)
    while chunk := list(islice(it, n)):
        yield chunk


def _bound(when: datetime | None) -> datetime | None:
    return None if when is None else as_utc(when)


@flow(name="reprocess", log_prints=True)
def reprocess(
    out: OutDir,
    window: DateWindow | None = None,
    sources: list[str] | None = None,
    settings: Settings | None = None,
) -> dict[str, object]:
    """Re-run extraction, normalisation and tagging on archived responses; no fetching.

    Args:
        out: Output directory whose raw/ archive to read; articles are rewritten in place.
        window: Only responses fetched in [since, until) UTC; empty = the whole archive.
        sources: Only these source names; empty = all.
        settings: Pipeline options (normalise level, NER backend, watchlist, runner).
    """
    log = get_run_logger()
    settings = settings or Settings()
    run_id = _run_id()
    summary = RunSummary(run_id)
    since = _bound(window.since) if window else None
    until = _bound(window.until) if window else None
    if not raw_dir(out).is_dir():
        raise FileNotFoundError(f"{out}/raw: no WARC archive to reprocess")
    wanted = set(sources) if sources else None
    # A counting pass (decompression only) gives the progress bar its total.
    total = sum(1 for _ in archived_articles(iter_responses(out, since, until), run_id, wanted))
    articles = archived_articles(iter_responses(out, since, until), run_id, wanted)
    seen: set[str] = set()
    label = f"marsad reprocess {run_id}"
    with RunProgress(total, label) as progress, task_runner(settings) as tr:
        pending = []
        for seq, batch in enumerate(_batches(articles, settings.batch_size)):
            summary.add("fetched", (a.source for a in batch))
            future = tr.submit(process_task, {"articles": batch, "settings": settings})
            pending.append((seq, future))
            while len(pending) >= settings.workers:
                _store(pending.pop(0), seen, out, run_id, summary, progress)
        while pending:
            _store(pending.pop(0), seen, out, run_id, summary, progress)
    log.info("reprocessed %d archived pages", summary.total("fetched"))
    return finish_run(summary, out, None)


def _store(
    item: tuple[int, object],
    seen: set[str],
    out: str,
    run_id: str,
    summary: RunSummary,
    progress: RunProgress,
) -> None:
    seq, future = item
    tagged, failed = future.result()  # type: ignore[attr-defined]
    stored = store_task(tagged, failed, seen, out, run_id, seq, replace=True)
    summary.add("stored", stored)
    summary.add_failures(failed)
    summary.add_entities(tagged)
    progress.advance(len(tagged) + len(failed))
