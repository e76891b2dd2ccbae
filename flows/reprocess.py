"""Reprocess: extract → normalise → tag → store again from the WARC archive, fetching nothing.

What one runs after a model, watchlist or extractor update. Responses come from
DIR/raw/*.warc.gz (`marsad.warc.iter_responses`), oldest first, streamed in batches; each
stored article supersedes its earlier row and mentions (`store_task(..., replace=True)`).
Only 2xx HTML responses are articles; feeds and sitemaps in the archive are passed over.
The feed's date of an item is not in the archive, so a page without a date of its own gets
its fetch date.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prefect import State, flow, get_run_logger

from marsad.flows.params import DateWindow, OutDir, as_utc
from marsad.flows.run import Batch, batched, finish_run, open_run, process_batches
from marsad.record import Article
from marsad.settings import Settings
from marsad.warc import archived_articles, iter_responses, raw_dir


def _bound(when: datetime | None) -> datetime | None:
    return None if when is None else as_utc(when)


@flow(name="reprocess", log_prints=True)
def reprocess(
    out: OutDir,
    window: DateWindow | None = None,
    sources: list[str] | None = None,
    settings: Settings | None = None,
) -> State[dict[str, object]]:
    """Re-run extraction, normalisation and tagging on archived responses; no fetching.

    Args:
        out: Output directory whose raw/ archive to read; articles are rewritten in place.
        window: Only responses fetched in [since, until) UTC; empty = the whole archive.
        sources: Only these source names; empty = all.
        settings: Pipeline options (normalise level, NER backend, watchlist, runner).
    """
    log = get_run_logger()
    settings = settings or Settings()
    since = _bound(window.since) if window else None
    until = _bound(window.until) if window else None
    if not raw_dir(out).is_dir():
        raise FileNotFoundError(f"{out}/raw: no WARC archive to reprocess")
    run = open_run(out, settings, dedup=False)
    wanted = set(sources) if sources else None

    def pages() -> Iterator[Article]:
        return archived_articles(iter_responses(out, since, until), run.run_id, wanted)

    total = sum(1 for _ in pages())  # a counting pass (decompression only) for the progress bar
    batches = (Batch(batch, items=len(batch)) for batch in batched(pages(), settings.batch_size))
    process_batches(run, batches, total, replace=True, alert=False, label="marsad reprocess")
    log.info("reprocessed %d archived pages", run.summary.total("fetched"))
    return finish_run(run)
