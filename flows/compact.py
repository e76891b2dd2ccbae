"""Compaction flow: merge each date partition's small files into one, atomically.

`marsad serve` and deployments/prefect.yaml schedule it daily (02:30 UTC); the store step
already compacts a partition that passes `MAX_FILES` files, this flow leaves one file per
partition and dataset.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from marsad.tasks.compact import compact_task


@flow(name="compact", log_prints=True)
def compact_flow(out: str, dates: list[str] | None = None, min_files: int = 2) -> dict[str, int]:
    """Compact the output's partitions.

    Args:
        out: Output directory or URI (file://, s3://, gs://).
        dates: Only these partitions (YYYY-MM-DD); empty = every partition.
        min_files: Compact a partition once one of its datasets holds this many files.
    """
    result = compact_task(out, dates, min_files)
    get_run_logger().info("compaction of %s: %s", out, result)
    return result
