"""The CPU stages of one batch: extract → normalise → tag (and link).

Fetching and storing stay in the flow's process (I/O, one writer per output); this chain
is what a task runner sends to threads, processes or a Dask cluster, one batch per task run.
Models load once per worker process (`marsad.ner.backends`), not once per batch.
"""

from __future__ import annotations

from marsad.entities import tag_articles
from marsad.extract import extract_articles
from marsad.record import Article, Failure
from marsad.settings import Settings
from marsad.text.arabic import normalise_articles


def process_batch(
    articles: list[Article], settings: Settings, language: str | None = None
) -> tuple[list[Article], list[Failure]]:
    """Every article ends tagged or failed (stage extract, normalise or tag, with the reason),
    whatever its HTML: each stage turns one article's exception into that article's failure.

    `language`: pages the extract stage detects in another language are dropped, neither
    tagged nor failed (an archive ingest keeps one language and counts them as skipped)."""
    level = settings.normalise_level
    extracted, failed = extract_articles(articles)
    if language is not None:
        extracted = [a for a in extracted if a.language == language]
    normalised = normalise_articles(extracted, level, failed)
    tagged, tag_failed = tag_articles(normalised, level=level, settings=settings)
    return tagged, failed + tag_failed
