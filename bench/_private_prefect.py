"""Imported before prefect by the benches that run flows: no analytics, and a private
ephemeral Prefect server (not a shared one) given time to start on a busy machine, its home
removed at exit."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
if "PREFECT_HOME" not in os.environ:
    os.environ["PREFECT_HOME"] = _home = tempfile.mkdtemp(prefix="marsad-bench-prefect-")
    atexit.register(shutil.rmtree, _home, True)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
