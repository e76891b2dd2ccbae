"""The report flow: the offline HTML report of an output's last days (a daily deployment).

Monitor runs link the newest report from their `run-entities` artifact.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from marsad.tasks.report import report_task


@flow(name="report", log_prints=True)
def report_flow(out: str, days: int = 7) -> str | None:
    """Write DIR/reports/report-<from>-<to>.html for the last `days` days.

    Args:
        out: Output directory or URI whose articles, mentions and failures to report on.
        days: How many days back from today (UTC), today included.
    """
    path = report_task(out, days)
    log = get_run_logger()
    if path is None:
        log.info("no data in %s for the last %d days: no report", out, days)
        return None
    create_markdown_artifact(
        key="report",
        markdown=f"# marsad report\n\nWritten to `{path}` (it opens offline in any browser).\n",
        description=f"marsad report of the last {days} days",
    )
    log.info("report written to %s", path)
    return path
