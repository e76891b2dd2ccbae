"""Retention flow: keep the Prefect database to the last `older_than_days` of flow runs.

`marsad serve` schedules it daily (deployment `cleanup`); so does deployments/prefect.yaml.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger
from pydantic import Field

from marsad.retention import DEFAULT_DAYS
from marsad.tasks.cleanup import cleanup_task

Days = Annotated[float, Field(ge=0)]


@flow(name="cleanup", log_prints=True)
def cleanup(older_than_days: Days = DEFAULT_DAYS) -> dict[str, int | str]:
    """Delete finished flow runs (with their task runs and logs) older than a number of days.

    Args:
        older_than_days: Flow runs expected to start more than this many days ago are
            deleted, if they finished (completed, failed, cancelled or crashed); running,
            pending and scheduled runs are never deleted.
    """
    result = cleanup_task(older_than_days)
    get_run_logger().info(
        "cleanup: deleted %s flow runs due before %s", result["flow_runs"], result["older_than"]
    )
    return result
