"""Serve marsad's deployments from Python: the same as `marsad serve --sources S --out DIR`.

    python deployments/monitor.py [SOURCES] [OUT]

One monitor deployment per source group (wires every 15 minutes, the rest hourly, UTC),
daily compact and cleanup, plus backfill, reprocess and retry-failures; see marsad/serve.py
and docs/operations.md. With PREFECT_API_URL unset a local Prefect server is started (the
embedded server runs flows but never schedules them). For worker mode use
deployments/prefect.yaml.
"""

from __future__ import annotations

import sys

from marsad.cli import main as marsad_main


def main() -> int:
    sources = sys.argv[1] if len(sys.argv) > 1 else "seeds/sources.yaml"
    out = sys.argv[2] if len(sys.argv) > 2 else "data"
    return marsad_main(["serve", "--sources", sources, "--out", out])


if __name__ == "__main__":
    sys.exit(main())
