"""Retention: flow runs older than N days leave the Prefect database.

A server that schedules a monitor every 15 minutes keeps ~35,000 flow runs a year, with
their task runs, states and logs; SQLite slows down and the UI's run lists with it. Deleting
a flow run through the API deletes its task runs and states (foreign keys) and, in the
server's background, its logs. Only finished runs go (COMPLETED, FAILED, CANCELLED,
CRASHED): a RUNNING, PENDING, CANCELLING, PAUSED or SCHEDULED run is never touched, however
old. A run's age is its expected start time (every run has one, started or not).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")
DEFAULT_DAYS = 30
PAGE = 200


@dataclass
class Deleted:
    flow_runs: int = 0
    older_than: str = ""

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


def delete_old_flow_runs(
    older_than_days: float = DEFAULT_DAYS,
    now: datetime | None = None,
    client: SyncPrefectClient | None = None,
) -> Deleted:
    """Delete the finished flow runs that were due before `older_than_days` ago."""
    from prefect.client.orchestration import get_client

    if older_than_days < 0:
        raise ValueError(f"older_than_days must be >= 0, got {older_than_days}")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    if client is None:
        with get_client(sync_client=True) as own:
            return _delete(own, cutoff)
    return _delete(client, cutoff)


def _delete(client: SyncPrefectClient, cutoff: datetime) -> Deleted:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound

    flt = FlowRunFilter(
        expected_start_time=FlowRunFilterExpectedStartTime.model_validate({"before_": cutoff}),
        state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType(s) for s in FINAL_STATES])
        ),
    )
    report = Deleted(older_than=cutoff.isoformat())
    while True:
        page = client.read_flow_runs(
            flow_run_filter=flt, sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=PAGE
        )
        for run in page:
            try:
                client.delete_flow_run(run.id)
            except ObjectNotFound:  # deleted meanwhile (another cleanup, the UI)
                continue
            report.flow_runs += 1
        if len(page) < PAGE:
            return report
