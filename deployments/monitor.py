"""The scheduled monitor deployment: every 15 minutes over seeds/sources.yaml.

Run `python deployments/monitor.py` with PREFECT_API_URL pointing at a Prefect server
(`prefect server start`): the embedded server runs flows but never schedules.
"""

from __future__ import annotations

import os
import sys

from marsad.flows.monitor import monitor

CRON = "*/15 * * * *"


def main() -> None:
    sources = sys.argv[1] if len(sys.argv) > 1 else "seeds/sources.yaml"
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.abspath("data")
    monitor.serve(
        name="monitor-every-15-minutes",
        cron=CRON,
        parameters={"sources": os.path.abspath(sources), "out": out},
    )


if __name__ == "__main__":
    main()
