"""Where the CPU stages run: threads (default), local processes, or a Dask cluster.

The fetch and store stages stay in the flow's process (I/O, and one writer per
output); extract → normalise → tag is CPU work, so each batch of it is one task
run submitted to the task runner chosen by `Settings.runner`. Each worker keeps
its models in a per-process cache (`load_default_tagger`), so a model is loaded
once per worker, not once per batch.
"""

from __future__ import annotations

import os

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from marsad.record import Article, Failure
from marsad.settings import Settings
from marsad.tasks.entities import tag_articles
from marsad.tasks.extract import extract_articles
from marsad.tasks.normalise import normalise_articles

RUNNER_HELP = (
    "threads, processes, dask (a local cluster) or a Dask scheduler address tcp://host:port"
)


def process_batch(
    articles: list[Article], settings: Settings
) -> tuple[list[Article], list[Failure]]:
    """Extract → normalise → tag one fetched batch; every article ends tagged or failed."""
    level = settings.normalise_level
    extracted, failed = extract_articles(articles)
    normalised = normalise_articles(extracted, level)
    tagged, tag_failed = tag_articles(normalised, level=level, settings=settings)
    return tagged, failed + tag_failed


@task(name="process", cache_policy=NO_CACHE)
def process_task(
    articles: list[Article], settings: Settings
) -> tuple[list[Article], list[Failure]]:
    return process_batch(articles, settings)


def share_api_url() -> str | None:
    """Point the local worker processes we spawn at this flow's Prefect server.

    A child process reads PREFECT_API_URL from its environment; without it, it would start
    an ephemeral server of its own and report its task runs there. The URL comes from the
    active settings, or from the ephemeral server this process started.
    """
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
        url = server.api_url if server.running else None
    if url:
        os.environ["PREFECT_API_URL"] = str(url)
    return str(url) if url else None


def task_runner(settings: Settings) -> TaskRunner:
    """A fresh, not yet started task runner for `settings.runner`."""
    kind = settings.runner
    if kind == "threads":
        return ThreadPoolTaskRunner(max_workers=settings.workers)
    share_api_url()  # before any local worker process is spawned
    if kind == "processes":
        return ProcessPoolTaskRunner(max_workers=settings.workers)
    from prefect_dask import DaskTaskRunner

    if kind == "dask":
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": settings.workers, "threads_per_worker": 1}
        )
    return DaskTaskRunner(address=kind)
