"""Which deployments a `marsad serve` may register, and what it leaves behind on the server.

A deployment is identified by name on a server, so two instances with different sources or
outputs would overwrite each other's (issue 12: the second one's `out` took over the first
one's schedule). So an instance registers a deployment only if it is new, or carries the
same `sources` and `out` (or `--replace` says take it over); it pauses on exit only what it
registered and nobody else serves; and it marks Crashed the runs its deployments left
RUNNING/PENDING/CANCELLING without a live process, which otherwise hold the deployment's
concurrency slot forever ("Deployment concurrency limit reached").
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from marsad.serve_schedules import ServeError

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.objects import FlowRun

OWNED_PARAMETERS = ("sources", "out")
OPEN_STATES = ("RUNNING", "PENDING", "CANCELLING")
LIVE_POLL_S = 60.0  # the server's own NOT_READY threshold for a deployment nobody polls
RECHECK_S = 25.0  # a live runner polls every 10 s by default


@dataclass
class Claim:
    """One deployment this instance wants: its flow, name and parameters, and what the
    server held under that name before."""

    flow_name: str
    name: str
    parameters: dict[str, Any]
    existing_id: UUID | None = None
    polled_at: datetime | None = None
    shared: bool = False  # identical, and another live runner polls it: never paused here
    replaced: bool = False  # another instance's, taken over with --replace

    @property
    def full_name(self) -> str:
        return f"{self.flow_name}/{self.name}"


def differences(ours: dict[str, Any], theirs: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(parameter, theirs, ours) for each owned parameter that differs."""
    return [
        (key, theirs.get(key), ours[key])
        for key in OWNED_PARAMETERS
        if key in ours and theirs.get(key) != ours[key]
    ]


def conflict_message(claim: Claim, diffs: list[tuple[str, Any, Any]], api: str) -> str:
    said = "; ".join(f"its {k} is {t!r}, this one's is {o!r}" for k, t, o in diffs)
    return (
        f"deployment {claim.name!r} on {api} was registered by another marsad serve "
        f"(or with another sources file or out): {said}"
    )


async def read_claims(
    client: PrefectClient, claims: Sequence[Claim], replace: bool, api: str
) -> None:
    """Fill in what the server holds; refuse (ServeError, nothing changed) on a conflict."""
    from prefect.exceptions import ObjectNotFound

    conflicts = []
    for claim in claims:
        try:
            dep = await client.read_deployment_by_name(claim.full_name)
        except ObjectNotFound:
            continue
        claim.existing_id, claim.polled_at = dep.id, dep.last_polled
        diffs = differences(claim.parameters, dep.parameters or {})
        if diffs:
            claim.replaced = True
            conflicts.append(conflict_message(claim, diffs, api))
    if conflicts and not replace:
        raise ServeError(
            "\n".join(conflicts)
            + "\nnothing was registered or changed; --replace takes these deployments over "
            "(the other instance's schedules then run with this one's sources and out)"
        )


def _recent(when: datetime | None, now: datetime) -> bool:
    return when is not None and now - when < timedelta(seconds=LIVE_POLL_S)


async def mark_shared(
    client: PrefectClient, claims: Sequence[Claim], recheck_s: float = RECHECK_S
) -> list[Claim]:
    """On a server this instance did not start: a deployment polled in the last minute may be
    served by another live runner, or by one that just died. Its `last_polled` moving on
    within `recheck_s` tells which; the live ones are `shared` (their runs and schedules are
    left alone). Returns the shared claims."""
    now = datetime.now(UTC)
    suspects = [c for c in claims if c.existing_id and not c.replaced and _recent(c.polled_at, now)]
    if not suspects:
        return []
    deadline = asyncio.get_running_loop().time() + recheck_s
    while suspects and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(2)
        for claim in list(suspects):
            assert claim.existing_id is not None
            dep = await client.read_deployment(claim.existing_id)
            if dep.last_polled != claim.polled_at:
                claim.shared = True
                suspects.remove(claim)
    return [c for c in claims if c.shared]


def _runs_filter(ids: Iterable[UUID], states: Iterable[str], by: str = "deployment_id") -> Any:
    """Runs in `states` whose deployment (by="deployment_id") or own id (by="id") is in `ids`."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    return FlowRunFilter.model_validate(
        {
            by: {"any_": list(ids)},
            "state": {"type": FlowRunFilterStateType(any_=[StateType(s) for s in states])},
        }
    )


async def open_runs(
    client: PrefectClient, deployment_ids: Iterable[UUID] = (), run_ids: Iterable[UUID] = ()
) -> list[FlowRun]:
    """Runs of these deployments, or with these ids, that are RUNNING, PENDING or CANCELLING."""
    found: dict[UUID, FlowRun] = {}
    for ids, by in ((list(deployment_ids), "deployment_id"), (list(run_ids), "id")):
        if ids:
            flt = _runs_filter(ids, OPEN_STATES, by)
            found.update((r.id, r) for r in await client.read_flow_runs(flow_run_filter=flt))
    return list(found.values())


async def crash_runs(client: PrefectClient, runs: Iterable[FlowRun], why: str) -> int:
    """Force each run to Crashed: the server then releases its deployment concurrency slot."""
    from prefect.states import Crashed

    n = 0
    for run in runs:
        await client.set_flow_run_state(run.id, Crashed(message=why), force=True)
        n += 1
    return n


async def crash_stale_runs(client: PrefectClient, claims: Sequence[Claim]) -> int:
    """At start-up: the open runs of our deployments that no live process runs."""
    ids = [c.existing_id for c in claims if c.existing_id and not c.shared]
    why = "marsad serve found this run open at start-up, with no process running it"
    return await crash_runs(client, await open_runs(client, ids), why)


async def finished_since(
    client: PrefectClient, deployment_ids: Iterable[UUID], since: datetime
) -> int:
    """Runs of these deployments that ended COMPLETED or FAILED after `since`."""
    from prefect.client.schemas.filters import FlowRunFilterEndTime

    ids = list(deployment_ids)
    if not ids:
        return 0
    flt = _runs_filter(ids, ("COMPLETED", "FAILED"))
    flt.end_time = FlowRunFilterEndTime.model_validate({"after_": since})
    return await client.count_flow_runs(flow_run_filter=flt)


async def pause_ours(client: PrefectClient, owned: Mapping[UUID, dict[str, Any]]) -> int:
    """Pause each deployment in `owned` (id -> the parameters this instance registered) that
    still carries them: one taken over meanwhile (`--replace` elsewhere) is not ours now."""
    from prefect.exceptions import ObjectNotFound

    paused = 0
    for dep_id, ours in owned.items():
        try:
            dep = await client.read_deployment(dep_id)
        except ObjectNotFound:
            continue
        if not differences(ours, dep.parameters or {}):
            await client.pause_deployment(dep_id)
            paused += 1
    return paused


INGEST_DESCRIPTION = (
    "Store the articles of WARC files (CC-NEWS or any crawl): give warcs (paths, globs, "
    "s3://, https://), and sources/language if wanted. On demand; resumable."
)


def ingest_deployment(
    ingest_flow: Any, out: str, parameters: Mapping[str, Any], **options: Any
) -> Any:
    """The `ingest` deployment: no schedule (a backfill is run on demand, from the UI's
    Custom run or `prefect deployment run`), one run at a time (two would read the same
    files). `ingest_flow` is marsad.flows.ingest.ingest, passed in: this module is below
    the flows layer."""
    return ingest_flow.to_deployment(
        name="ingest",
        parameters={"out": out, **parameters},
        concurrency_limit=1,
        description=INGEST_DESCRIPTION,
        **options,
    )
