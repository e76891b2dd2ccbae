"""`marsad serve` after a kill -9, and its --port (issue 12, reproductions 4 and 5).

A run left RUNNING by a killed instance holds its deployment's concurrency slot (limit 1):
every later run was CANCELLED ("Deployment concurrency limit reached") until someone marked
it Crashed by hand. A restart now does that itself. The UI of the server it starts on
`--port N` calls the API on N.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest
from faultserver import fault_server
from serveharness import (
    custom_run,
    deployments,
    port_listening,
    run_processes,
    run_state,
    running_serve,
    serve_env,
    slow_sources,
    wait_for,
)

from marsad.prefect_server import free_port, local_server

pytestmark = pytest.mark.slow
FAST = "per_host_delay_s: 0.0\nbatch_size: 2\nper_host_concurrency: 2\nbackoff_base_s: 0.01\n"
STARTED = {"RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED"}


def test_a_run_left_running_by_kill_9_is_crashed_at_restart_and_frees_the_slot(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    (tmp_path / "settings.yaml").write_text(FAST, "utf-8")
    with fault_server() as (bases, fault):
        (tmp_path / "sources.yaml").write_text(slow_sources(bases["127.0.0.1"]), "utf-8")
        args = ["--sources", str(tmp_path / "sources.yaml"), "--out", str(out)]
        args += ["--allow-private-networks", "--settings", str(tmp_path / "settings.yaml")]
        args += ["--schedule", "default=0 0 1 1 *"]  # no scheduled run besides the test's
        port = free_port()
        (tmp_path / "first").mkdir()
        with running_serve(
            [*args, "--port", str(port)], tmp_path / "first", serve_env(), port
        ) as first:
            api = first.api
            dep = wait_for(
                "monitor-default", lambda: deployments(api).get("monitor-default"), 180, first.proc
            )
            # --port N: the UI's API address is on N too (it was 4200 whatever --port said)
            ui = httpx.get(f"http://127.0.0.1:{port}/ui-settings", timeout=30).json()
            assert ui["api_url"] == f"http://127.0.0.1:{port}/api"
            assert dep["global_concurrency_limit"]["limit"] == 1

            stale = custom_run(api, dep["id"])
            wait_for("the run to fetch", lambda: fault.hits("/slow/"), 120, first.proc)
            assert run_state(api, stale) == "RUNNING"
            os.killpg(first.proc.pid, signal.SIGKILL)  # marsad and its run process, as kill -9
            first.wait(10)
            # the server child leads a session of its own, yet does not outlive marsad
            wait_for("the server to stop", lambda: not port_listening(port), 30, None)
        assert not run_processes(stale)

        with local_server(out / ".prefect", free_port()) as api:
            assert run_state(api, stale) == "RUNNING"  # what kill -9 leaves behind

        port = free_port()
        (tmp_path / "second").mkdir()
        with running_serve(
            [*args, "--port", str(port)], tmp_path / "second", serve_env(), port
        ) as second:
            api = second.api
            wait_for("serving", lambda: "Ctrl-C stops" in second.output(), 180, second.proc)
            dep = deployments(api)["monitor-default"]
            fresh = custom_run(api, dep["id"])
            state = wait_for(
                "the new run to start",
                lambda: (s := run_state(api, fresh)) in STARTED and s,
                120,
                second.proc,
            )
            run = httpx.get(f"{api}/flow_runs/{fresh}", timeout=30).json()
            assert state == "RUNNING", run["state"]  # not CANCELLED for the concurrency limit
            assert "concurrency" not in (run["state"]["message"] or "")
            assert run_state(api, stale) == "CRASHED"
            assert "marked 1 runs Crashed that an earlier serve left open" in second.output()

            os.killpg(second.proc.pid, signal.SIGINT)
            assert second.wait(20) == 130
            assert "Traceback" not in second.output()
        assert not run_processes(fresh)
