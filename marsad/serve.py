"""`marsad serve`: scheduled monitoring and operator flows from one command, left running.

Prefect's embedded (ephemeral) server runs flows but never schedules them, so `serve`
talks to the server PREFECT_API_URL names; with none configured it starts a local
`prefect server start` (SQLite, 127.0.0.1, its own PREFECT_HOME; marsad/prefect_server.py)
and prints where the UI is, refusing a port that anything else holds.

It registers one monitor deployment per source group (each on its own cron schedule and
timezone, never overlapping itself, with a time budget of 80% of its interval), daily
`compact` and `cleanup` deployments, and backfill, reprocess and retry-failures deployments
for Custom runs from the UI; deployments of another instance (other sources or out) are
refused unless `--replace` (marsad/serve_deployments.py). It then runs their flow runs in
subprocesses until Ctrl-C or SIGTERM, and stops within seconds with no run left RUNNING
(marsad/serve_runner.py). With `--settings FILE`, the file's settings are every
deployment's `settings` parameter (the UI's Custom run form starts from them).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from marsad.prefect_server import (
    QUIET_ENV,
    default_home,
    free_port,
    local_server,
    port_is_free,
    port_taken,
    stop_process,
    wait_healthy,
)
from marsad.retention import DEFAULT_DAYS
from marsad.serve_deployments import (
    Claim,
    crash_stale_runs,
    ingest_deployment,
    mark_shared,
    pause_ours,
    read_claims,
)
from marsad.serve_runner import Outcome, Stopper, catch_signals, note, serve_until_stopped
from marsad.serve_schedules import (
    CLEANUP_CRON,
    COMPACT_CRON,
    DEFAULT_CRON,
    GROUP_CRONS,
    REPORT_CRON,
    GroupSchedule,
    ServeError,
    group_schedules,
    parse_schedule,
    run_budget,
    settings_parameter,
)
from marsad.settings import Settings, load_settings
from marsad.sources import load_sources

__all__ = [  # the names callers and tests import from here, wherever they now live
    "DEFAULT_CRON",
    "GROUP_CRONS",
    "QUIET_ENV",
    "GroupSchedule",
    "Outcome",
    "ServeError",
    "build_deployments",
    "default_home",
    "free_port",
    "group_schedules",
    "local_server",
    "parse_schedule",
    "serve",
    "settings_parameter",
    "stop_process",
]


def build_deployments(
    sources: str,
    out: str,
    allow_private_networks: bool,
    schedules: list[GroupSchedule],
    settings: Settings | None = None,
    timezone: str = "UTC",
    retention_days: float = DEFAULT_DAYS,
) -> list[Any]:
    """The RunnerDeployments `marsad serve` registers and runs."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from marsad.flows.backfill import backfill
    from marsad.flows.cleanup import cleanup
    from marsad.flows.compact import compact_flow
    from marsad.flows.ingest import ingest
    from marsad.flows.monitor import monitor
    from marsad.flows.report import report_flow
    from marsad.flows.reprocess import reprocess
    from marsad.flows.retry_failures import retry_failures

    common: dict[str, Any] = {"entrypoint_type": EntrypointType.MODULE_PATH, "tags": ["marsad"]}
    opts = settings_parameter(settings)
    net = {"sources": sources, "out": out, "allow_private_networks": allow_private_networks}
    no_overlap = ConcurrencyLimitConfig(
        limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
    )
    deployments = [
        monitor.to_deployment(
            name=f"monitor-{s.group}",
            schedule=Cron(s.cron, timezone=s.timezone),
            parameters={**net, **settings_parameter(settings, run_budget(s)), "group": s.group},
            concurrency_limit=no_overlap,
            description=f"Monitor the sources of group {s.group!r}: {s.cron} ({s.timezone}).",
            **common,
        )
        for s in schedules
    ]
    deployments += [
        backfill.to_deployment(
            name="backfill",
            parameters={**net, **opts},
            description="Fetch a past date range through sitemaps and feeds (give since/until).",
            **common,
        ),
        reprocess.to_deployment(
            name="reprocess",
            parameters={"out": out, **opts},
            concurrency_limit=1,
            description="Re-extract, normalise, tag and store from the WARC archive; no fetching.",
            **common,
        ),
        retry_failures.to_deployment(
            name="retry-failures",
            parameters={"out": out, "allow_private_networks": allow_private_networks, **opts},
            description="Fetch again the failures of a run (run_id) or a time window.",
            **common,
        ),
        compact_flow.to_deployment(
            name="compact",
            schedule=Cron(COMPACT_CRON, timezone=timezone),
            parameters={"out": out},
            concurrency_limit=no_overlap,
            description=f"Merge each date partition's files into one: {COMPACT_CRON} ({timezone}).",
            **common,
        ),
        report_flow.to_deployment(
            name="report",
            schedule=Cron(REPORT_CRON, timezone=timezone),
            parameters={"out": out, "days": 7},
            concurrency_limit=no_overlap,
            description=f"Write the last 7 days' HTML report under DIR/reports: {REPORT_CRON} "
            f"({timezone}).",
            **common,
        ),
        cleanup.to_deployment(
            name="cleanup",
            schedule=Cron(CLEANUP_CRON, timezone=timezone),
            parameters={"older_than_days": retention_days},
            concurrency_limit=no_overlap,
            description=f"Delete finished flow runs older than {retention_days:g} days from the "
            f"Prefect database: {CLEANUP_CRON} ({timezone}).",
            **common,
        ),
    ]
    # On demand: the WARC paths are the run's to give; records of no configured source are skipped.
    deployments.append(ingest_deployment(ingest, out, {"sources": sources, **opts}, **common))
    return deployments


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def serve(
    sources: str,
    out: str,
    allow_private_networks: bool = False,
    schedule_specs: list[str] | None = None,
    timezone: str = "UTC",
    port: int = 4200,
    home: Path | None = None,
    settings_file: str | None = None,
    replace: bool = False,
    retention_days: float = DEFAULT_DAYS,
) -> Outcome:
    """Register the deployments and run their flow runs until interrupted (Ctrl-C, SIGTERM);
    returns how it stopped (`Outcome.line()` is the one line to print)."""
    srcs = load_sources(sources)  # a bad sources file fails here, before any server starts
    settings = load_settings(settings_file) if settings_file else None  # and a bad settings file
    overrides = {s.group: s for s in (parse_schedule(x, timezone) for x in schedule_specs or [])}
    schedules = group_schedules(srcs, overrides, timezone)
    sources = str(Path(sources).resolve())
    out = out if "://" in out else str(Path(out).resolve())
    home = home or default_home(out)
    build = partial(  # once the port is known to be usable: importing the flows takes a while
        build_deployments,
        sources,
        out,
        allow_private_networks,
        schedules,
        settings,
        timezone,
        retention_days,
    )
    stopper = Stopper()
    with catch_signals(stopper):
        try:
            return _serve(build, schedules, home, port, replace, stopper)
        except InterruptedError:
            return Outcome(stopper.reason or "interrupted")
        finally:
            stopper.restore()


def _serve(
    build: Callable[[], list[Any]],
    schedules: list[GroupSchedule],
    home: Path,
    port: int,
    replace: bool,
    stopper: Stopper,
) -> Outcome:
    api = configured_api_url()
    log = home / "serve.log"
    if api:
        wait_healthy(api, 30, should_stop=stopper.requested)
        return _serve_on(api, False, build, schedules, replace, stopper, log)
    if not port_is_free(port):  # before anything else: name what holds the port
        raise ServeError(port_taken(port))
    with local_server(home, port, should_stop=stopper.requested) as api:
        print(f"started a local Prefect server; UI at {api.removesuffix('/api')}", flush=True)
        outcome = _serve_on(api, True, build, schedules, replace, stopper, log)
    note("the local Prefect server has stopped")
    return outcome


def _serve_on(
    api: str,
    own_server: bool,
    build: Callable[[], list[Any]],
    schedules: list[GroupSchedule],
    replace: bool,
    stopper: Stopper,
    log: Path,
) -> Outcome:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    os.environ["PREFECT_API_URL"] = api  # the flow-run subprocesses inherit it
    with temporary_settings(updates={PREFECT_API_URL: api}):
        deployments = build()
        return asyncio.run(
            _register_and_run(api, own_server, deployments, schedules, replace, stopper, log)
        )


async def _register_and_run(
    api: str,
    own_server: bool,
    deployments: list[Any],
    schedules: list[GroupSchedule],
    replace: bool,
    stopper: Stopper,
    log: Path,
) -> Outcome:
    from prefect.client.orchestration import get_client
    from prefect.runner import Runner

    claims = [Claim(d.flow_name, d.name, dict(d.parameters)) for d in deployments]
    async with get_client() as client:
        await read_claims(client, claims, replace, api)  # refuses before anything changes
        for claim in [] if own_server else await mark_shared(client, claims):
            print(f"{claim.name}: another runner serves it too; its runs and schedule are left")
        crashed = await crash_stale_runs(client, claims)
    if crashed:
        print(f"marked {crashed} runs Crashed that an earlier serve left open", flush=True)
    runner = Runner(pause_on_shutdown=False)  # pauses only what is ours (serve_runner)
    ids = {}
    for deployment in deployments:
        if stopper.requested():
            break
        ids[deployment.name] = await runner.aadd_deployment(deployment)
    owned = {ids[c.name]: c.parameters for c in claims if c.name in ids and not c.shared}
    if stopper.requested():
        async with get_client() as client:
            await pause_ours(client, owned)
        return Outcome(stopper.reason or "interrupted")
    for s in schedules:
        print(f"monitor-{s.group}: {s.cron} ({s.timezone})", flush=True)
    print(f"serving {len(ids)} deployments on {api}; Ctrl-C stops", flush=True)
    return await serve_until_stopped(runner, stopper, log, owned)
