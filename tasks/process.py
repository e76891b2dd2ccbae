"""The `process` task: extract → normalise → tag one fetched batch on the task runner."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from marsad.process import process_batch
from marsad.record import Article, Failure
from marsad.settings import Settings


@task(name="process", cache_policy=NO_CACHE)
def process_task(
    articles: list[Article], settings: Settings
) -> tuple[list[Article], list[Failure]]:
    return process_batch(articles, settings)
