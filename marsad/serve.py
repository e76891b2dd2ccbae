"""`marsad serve`: scheduled monitoring and operator flows from one command.

Prefect's embedded (ephemeral) server runs flows but never schedules them, so `serve`
talks to the server PREFECT_API_URL names; with none configured it starts a local
`prefect server start` (SQLite, 127.0.0.1, its own PREFECT_HOME) and prints where the UI is.
It then registers one monitor deployment per source group (each on its own cron schedule
and timezone, never overlapping itself) plus backfill, reprocess and retry-failures
deployments for Custom runs from the UI, and runs their flow runs in subprocesses until
interrupted. With `--settings FILE`, the file's settings are every deployment's `settings`
parameter (the UI's Custom run form starts from them).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from marsad.settings import Settings, load_settings
from marsad.sources import Source, load_sources

DEFAULT_CRON = "0 * * * *"  # hourly
GROUP_CRONS = {"wires": "*/15 * * * *"}
QUIET_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


class ServeError(ValueError):
    """A `marsad serve` option or environment that cannot work; the message is for the user."""


@dataclass(frozen=True)
class GroupSchedule:
    group: str
    cron: str
    timezone: str


def parse_schedule(spec: str, default_tz: str) -> GroupSchedule:
    """`GROUP=CRON[@TIMEZONE]`, e.g. `wires=*/15 * * * *@Asia/Riyadh`."""
    group, sep, rest = spec.partition("=")
    if not sep or not group.strip() or not rest.strip():
        raise ServeError(f"--schedule {spec!r}: expected GROUP=CRON[@TIMEZONE]")
    cron, _, tz = rest.partition("@")
    return GroupSchedule(
        group.strip(), _check_cron(cron.strip()), _check_tz(tz.strip() or default_tz)
    )


def _check_cron(cron: str) -> str:
    from prefect.schedules import Cron

    try:
        Cron(cron)  # validates the expression
    except ValueError as exc:
        raise ServeError(f"invalid cron {cron!r}: {exc}") from None
    return cron


def _check_tz(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ServeError(
            f"unknown timezone {tz!r} (use an IANA name such as Asia/Riyadh)"
        ) from None
    return tz


def group_schedules(
    sources: list[Source], overrides: Mapping[str, GroupSchedule], default_tz: str
) -> list[GroupSchedule]:
    """One schedule per group in the sources file: an override, a known group's cron, or hourly."""
    unknown = sorted(set(overrides) - {s.group for s in sources})
    if unknown:
        raise ServeError(f"--schedule for groups not in the sources file: {unknown}")
    out = []
    for group in sorted({s.group for s in sources}):
        out.append(
            overrides.get(group)
            or GroupSchedule(group, GROUP_CRONS.get(group, DEFAULT_CRON), _check_tz(default_tz))
        )
    return out


def settings_parameter(settings: Settings | None) -> dict[str, Any]:
    """The deployments' `settings` parameter: the fields a settings file set, as JSON (none:
    no parameter, the flows' defaults). `allow_private_networks` rides along as the file says
    it; the flows' `run_settings` is where it meets the `allow_private_networks` parameter."""
    if settings is None:
        return {}
    return {"settings": settings.model_dump(mode="json", exclude_unset=True)}


def build_deployments(
    sources: str,
    out: str,
    allow_private_networks: bool,
    schedules: list[GroupSchedule],
    settings: Settings | None = None,
) -> list[Any]:
    """The RunnerDeployments `marsad serve` registers and runs."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from marsad.flows.backfill import backfill
    from marsad.flows.monitor import monitor
    from marsad.flows.reprocess import reprocess
    from marsad.flows.retry_failures import retry_failures

    common: dict[str, Any] = {"entrypoint_type": EntrypointType.MODULE_PATH, "tags": ["marsad"]}
    opts = settings_parameter(settings)
    net = {"sources": sources, "out": out, "allow_private_networks": allow_private_networks, **opts}
    deployments = [
        monitor.to_deployment(
            name=f"monitor-{s.group}",
            schedule=Cron(s.cron, timezone=s.timezone),
            parameters={**net, "group": s.group},
            concurrency_limit=ConcurrencyLimitConfig(
                limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
            ),
            description=f"Monitor the sources of group {s.group!r}: {s.cron} ({s.timezone}).",
            **common,
        )
        for s in schedules
    ]
    deployments += [
        backfill.to_deployment(
            name="backfill",
            parameters=net,
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
    ]
    return deployments


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_healthy(
    api_url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServeError(f"prefect server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ServeError(f"no healthy Prefect server at {api_url} after {timeout_s:.0f} s")


@contextmanager
def local_server(home: Path, port: int = 4200, timeout_s: float = 180) -> Iterator[str]:
    """A `prefect server start` on 127.0.0.1 with SQLite under `home`; yields its API URL."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **QUIET_ENV, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    api = f"http://127.0.0.1:{port}/api"
    log: IO[bytes] = open(home / "server.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(api, timeout_s, proc)
        yield api
    finally:
        stop_process(proc, signal.SIGTERM)
        log.close()


def stop_process(proc: subprocess.Popen[bytes], sig: int, timeout_s: float = 30) -> None:
    """Ask a child to stop with `sig`; kill it if it has not after `timeout_s`."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def default_home(out: str) -> Path:
    """The local server's PREFECT_HOME: under DIR when DIR is a local path, else ~/.marsad."""
    if "://" in out:
        return Path.home() / ".marsad" / "prefect"
    return Path(out).resolve() / ".prefect"


def serve(
    sources: str,
    out: str,
    allow_private_networks: bool = False,
    schedule_specs: list[str] | None = None,
    timezone: str = "UTC",
    port: int = 4200,
    home: Path | None = None,
    settings_file: str | None = None,
) -> None:
    """Register the deployments and run their flow runs until interrupted (Ctrl-C, SIGTERM)."""
    srcs = load_sources(sources)  # a bad sources file fails here, before any server starts
    settings = load_settings(settings_file) if settings_file else None  # and a bad settings file
    overrides = {s.group: s for s in (parse_schedule(x, timezone) for x in schedule_specs or [])}
    schedules = group_schedules(srcs, overrides, timezone)
    sources = str(Path(sources).resolve())
    out = out if "://" in out else str(Path(out).resolve())
    api = configured_api_url()
    if api:
        wait_healthy(api, 30)
        _serve_on(api, sources, out, allow_private_networks, schedules, settings)
        return
    with local_server(home or default_home(out), port) as api:
        print(f"started a local Prefect server; UI at {api.removesuffix('/api')}", flush=True)
        _serve_on(api, sources, out, allow_private_networks, schedules, settings)


def _serve_on(
    api: str,
    sources: str,
    out: str,
    allow_private: bool,
    schedules: list[GroupSchedule],
    settings: Settings | None,
) -> None:
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    os.environ["PREFECT_API_URL"] = api  # the flow-run subprocesses inherit it
    with temporary_settings(updates={PREFECT_API_URL: api}):
        deployments = build_deployments(sources, out, allow_private, schedules, settings)
        for s in schedules:
            print(f"monitor-{s.group}: {s.cron} ({s.timezone})", flush=True)
        print(f"serving {len(deployments)} deployments on {api}; Ctrl-C stops", flush=True)
        prefect_serve(*deployments, print_starting_message=False)
