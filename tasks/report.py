"""The `report` task: the HTML report of the last days of an output."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from marsad.report_html import write_recent


@task(name="report", cache_policy=NO_CACHE)
def report_task(out: str, days: int) -> str | None:
    return write_recent(out, days)
