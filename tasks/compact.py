"""The `compact` task: merge each date partition's files into one, atomically."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from marsad.compact import compact


@task(name="compact", cache_policy=NO_CACHE)
def compact_task(out: str, dates: list[str] | None, min_files: int) -> dict[str, int]:
    report = compact(out, dates, min_files)
    return {
        "partitions": report.partitions,
        "files_in": report.files_in,
        "files_out": report.files_out,
        "duplicates_dropped": report.duplicates_dropped,
    }
