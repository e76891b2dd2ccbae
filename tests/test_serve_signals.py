"""Ctrl-C and SIGTERM on `marsad serve` with a run in flight (issue 12, reproduction 4).

`marsad serve` runs with its own local server on a temporary PREFECT_HOME (DIR/.prefect),
as an operator starts it; the run fetches from a loopback site that takes 3 s a page. The
signal goes where a terminal sends Ctrl-C (the whole foreground process group) or where a
service manager sends SIGTERM (marsad alone). Afterwards the same database is opened with a
second server to read how the run ended.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from faultserver import fault_server
from serveharness import (
    custom_run,
    deployments,
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


@pytest.mark.parametrize(
    ("sig", "to_group", "code", "reason"),
    [
        (signal.SIGINT, True, 130, "interrupted"),  # a terminal's Ctrl-C: every process of it
        (signal.SIGTERM, False, 0, "terminated"),  # systemd (KillMode=mixed), docker stop
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_a_signal_stops_serve_in_seconds_and_leaves_no_run_running(
    tmp_path: Path, sig: signal.Signals, to_group: bool, code: int, reason: str
) -> None:
    with fault_server() as (bases, fault):
        (tmp_path / "sources.yaml").write_text(slow_sources(bases["127.0.0.1"]), "utf-8")
        (tmp_path / "settings.yaml").write_text(FAST, "utf-8")
        out, port = tmp_path / "out", free_port()
        args = ["--sources", "sources.yaml", "--out", str(out), "--port", str(port)]
        args += ["--allow-private-networks", "--settings", "settings.yaml"]
        args += ["--schedule", "default=0 0 1 1 *"]  # no scheduled run besides the test's
        with running_serve(args, tmp_path, serve_env(), port) as served:
            api = served.api
            names = {"monitor-default", "compact", "cleanup", "backfill"}
            deps = wait_for(
                "deployments", lambda: names <= set(d := deployments(api)) and d, 180, served.proc
            )
            run = custom_run(api, deps["monitor-default"]["id"])
            wait_for("the run to fetch", lambda: fault.hits("/slow/"), 120, served.proc)
            assert run_state(api, run) == "RUNNING"
            assert run_processes(run), "the run should be in a process of its own"

            started = time.monotonic()
            if to_group:
                os.killpg(served.proc.pid, sig)
            else:
                served.proc.send_signal(sig)
            assert served.wait(20) == code
            took = time.monotonic() - started
            output = served.output()

    print(f"stopped in {took:.1f} s")  # measured: docs/operations.md, Leaving it running
    assert took < 15, f"took {took:.1f} s to stop"
    assert "Traceback" not in output, output[-3000:]
    last = output.strip().splitlines()[-1]
    assert last == f"marsad serve: stopped ({reason}); 0 runs finished, 1 cancelled", output
    assert not run_processes(run), "the run's process outlived marsad serve"
    # the shutdown's details went to the serve log, not the terminal
    assert (out / ".prefect" / "serve.log").exists()

    with local_server(out / ".prefect", free_port()) as api:
        assert run_state(api, run) in {"CANCELLED", "CRASHED"}
        (dep,) = [d for d in deployments(api).values() if d["name"] == "monitor-default"]
        assert dep["paused"] is True  # its own deployments are paused on the way out
