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
    articles: list[Article], settings: Settings
) -> tuple[list[Article], list[Failure]]:
    """Every article ends tagged or failed (stage extract, normalise or tag, with the reason),
    whatever its HTML: each stage turns one article's exception into that article's failure."""
    level = settings.normalise_level
    extracted, failed = extract_articles(articles)
    normalised = normalise_articles(extracted, level, failed)
    tagged, tag_failed = tag_articles(normalised, level=level, settings=settings)
    return tagged, failed + tag_failed
