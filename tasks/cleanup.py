"""The `cleanup` task: delete old finished flow runs from the Prefect database."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from marsad.retention import delete_old_flow_runs


@task(name="cleanup", cache_policy=NO_CACHE)
def cleanup_task(older_than_days: float) -> dict[str, int | str]:
    return delete_old_flow_runs(older_than_days).as_dict()
