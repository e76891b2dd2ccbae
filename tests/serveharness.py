"""`marsad serve` as a subprocess for the test_serve_* tests, and the REST calls they check it
with. Every process a test starts is gone when its `running_serve` block ends: marsad's own
session is SIGKILLed, and whatever still listens on its port (the server child, which leads
a session of its own) is killed too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


def serve_env(api: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a `marsad serve`: PREFECT_API_URL only when `api` is given (else
    it starts its own server)."""
    env = {**os.environ, **QUIET, **extra}
    env.pop("PREFECT_API_URL", None)
    if api:
        env["PREFECT_API_URL"] = api
    return env


@dataclass
class Serve:
    proc: subprocess.Popen[bytes]
    log: Path
    port: int | None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)


def kill_listener(port: int) -> None:
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN" and conn.pid:
            with suppress(psutil.Error):
                psutil.Process(conn.pid).kill()


def port_listening(port: int) -> bool:
    return any(
        c.laddr and c.laddr.port == port and c.status == "LISTEN"
        for c in psutil.net_connections("tcp")
    )


@contextmanager
def running_serve(
    args: list[str], cwd: Path, env: dict[str, str], port: int | None = None
) -> Iterator[Serve]:
    """`marsad serve ARGS` in a session of its own, output in cwd/serve.log."""
    log_path = cwd / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "marsad.cli", "serve", *args],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield Serve(proc, log_path, port)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if port is not None:
                deadline = time.monotonic() + 15
                while port_listening(port) and time.monotonic() < deadline:
                    time.sleep(0.5)
                kill_listener(port)


def post(api: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    """POST, retrying 503 (SQLite busy on a loaded machine) as Prefect's own client does."""
    for attempt in range(6):
        resp = httpx.post(f"{api}{path}", json=body or {}, timeout=60)
        if resp.status_code != 503:
            break
        time.sleep(2**attempt)
    return resp


def deployments(api: str) -> dict[str, dict[str, Any]]:
    try:
        resp = post(api, "/deployments/filter")
    except httpx.HTTPError:
        return {}
    return {d["name"]: d for d in resp.json()} if resp.status_code == 200 else {}


def wait_for(
    what: str, check: Callable[[], Any], timeout_s: float, proc: subprocess.Popen[bytes] | None
) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"marsad serve exited ({proc.returncode}) waiting for {what}")
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def run_state(api: str, run_id: str) -> str:
    resp = httpx.get(f"{api}/flow_runs/{run_id}", timeout=60)
    return str(resp.json()["state_type"]) if resp.status_code == 200 else ""


def custom_run(api: str, deployment_id: str, parameters: dict[str, Any] | None = None) -> str:
    """What the UI's Custom run posts; returns the new run's id."""
    resp = post(
        api,
        f"/deployments/{deployment_id}/create_flow_run",
        {"parameters": parameters or {}, "state": {"type": "SCHEDULED"}},
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def run_processes(run_id: str) -> list[psutil.Process]:
    """Processes still running flow run `run_id` (Prefect puts the id in their environment)."""
    found = []
    for proc in psutil.process_iter():
        with suppress(psutil.Error):
            if proc.environ().get("PREFECT__FLOW_RUN_ID") == run_id:
                found.append(proc)
    return found


def slow_sources(base: str, n: int = 40) -> str:
    """A sources file whose every article takes the fault server 3 s to answer."""
    urls = ", ".join(f"'{base}/slow/{i}.html'" for i in range(n))
    return f"sources:\n  - {{name: slow, urls: [{urls}]}}\n"
