"""Where the CPU stages run: threads (default), local processes, or a Dask cluster.

The fetch and store stages stay in the flow's process (I/O, and one writer per
output); extract → normalise → tag (`marsad.process`) is CPU work, so each batch of it
is one `process` task run submitted to the task runner chosen by `Settings.runner`.
"""

from __future__ import annotations

import os

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from marsad.settings import Settings

RUNNER_HELP = (
    "threads, processes, dask (a local cluster) or a Dask scheduler address tcp://host:port"
)


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
    from prefect_dask.task_runners import DaskTaskRunner

    if kind == "dask":
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": settings.workers, "threads_per_worker": 1}
        )
    return DaskTaskRunner(address=kind)
