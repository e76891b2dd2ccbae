"""The local `prefect server start` that `marsad serve` runs when PREFECT_API_URL is unset.

What it guards against (issue 12): a second instance finding the first one's server on the
port and taking it over; the terminal's Ctrl-C killing the server before marsad could record
how its runs ended; the UI calling port 4200 whatever `--port` said. So the port must be
free before the child starts, the server that answers must be the one with our PREFECT_HOME,
the child runs in its own session (a terminal's SIGINT reaches marsad only; marsad stops the
child last), and the child's UI settings name the port it listens on.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from marsad.serve_schedules import ServeError

QUIET_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
HOST = "127.0.0.1"
LOCK_NAME = "marsad-serve.lock"
PR_SET_PDEATHSIG = 1


def free_port(host: str = HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on `port` (bound as uvicorn binds: SO_REUSEADDR)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def describe_listener(port: int, host: str = HOST) -> str:
    """What answers on `port`: a Prefect server (its version and PREFECT_HOME) or not."""
    base = f"http://{host}:{port}/api"
    try:
        version = httpx.get(f"{base}/admin/version", timeout=3)
        if version.status_code == 200:
            home = _server_home(base)
            where = f", PREFECT_HOME {home}" if home else ""
            return f"a Prefect server {version.json()} ({base}{where})"
    except (httpx.HTTPError, ValueError):
        pass
    return "a program that is not a Prefect server"


def _server_home(api: str) -> str | None:
    try:
        resp = httpx.get(f"{api}/admin/settings", timeout=3)
        return str(resp.json()["home"]) if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def _answers_as(api: str, home: Path, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    """Whether the server answering at `api` is `proc`, the one started with `home`.

    A server that has just come up on a loaded host can take longer than one request's
    timeout to answer /admin/settings: no answer is asked again (until `deadline`, at least
    30 s), only another home or `proc`'s exit is a verdict."""
    deadline = max(deadline, time.monotonic() + 30)
    while proc.poll() is None:
        found = _server_home(api)
        if found is not None:
            return found == str(home)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return False


def wait_healthy(
    api_url: str,
    timeout_s: float,
    proc: subprocess.Popen[bytes] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Wait for `api_url/health`; with `proc`, fail as soon as that child exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if should_stop():
            raise InterruptedError("stopped while the Prefect server was starting")
        if proc is not None and proc.poll() is not None:
            raise ServeError(f"prefect server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ServeError(f"no healthy Prefect server at {api_url} after {timeout_s:.0f} s")


def server_env(home: Path, port: int) -> dict[str, str]:
    """The child's environment: its own PREFECT_HOME, and every setting the server and its
    UI derive an address from pointing at `port` (the UI reads PREFECT_UI_API_URL from
    /ui-settings; left unset it would be built from PREFECT_SERVER_API_PORT, 4200)."""
    api = f"http://{HOST}:{port}/api"
    env = {**os.environ, **QUIET_ENV, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    env.update(
        {
            "PREFECT_SERVER_API_HOST": HOST,
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_UI_API_URL": api,
            "PREFECT_UI_URL": api.removesuffix("/api"),
        }
    )
    return env


@contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """One marsad serve per PREFECT_HOME: two servers on one SQLite file would both schedule."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK_NAME, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip() or "?"
            raise ServeError(
                f"another marsad serve (pid {pid}) uses the Prefect database in {home}; "
                "stop it first, or give this one another --out"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield


def _child_setup() -> None:
    """In the server child before exec: take SIGINT again (marsad blocks it; see serve_runner)
    and, on Linux, get SIGTERM when marsad dies, so a killed marsad leaves no server behind."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_server(home: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(port)]
    return subprocess.Popen(
        cmd,
        env=server_env(home, port),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the terminal's Ctrl-C is for marsad, not for the server
        preexec_fn=_child_setup,  # a ctypes call and a mask change: async-signal-safe enough
    )


@contextmanager
def local_server(
    home: Path,
    port: int = 4200,
    timeout_s: float = 180,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[str]:
    """A `prefect server start` on 127.0.0.1 with SQLite under `home`; yields its API URL.

    Refuses a port that something else holds, and a healthy answer from any server other
    than the one it started (its PREFECT_HOME must be `home`).
    """
    home = home.resolve()
    with home_lock(home):
        if not port_is_free(port):
            raise ServeError(port_taken(port))
        api = f"http://{HOST}:{port}/api"
        with open(home / "server.log", "ab") as log:
            proc = start_server(home, port, log)
            try:
                deadline = time.monotonic() + timeout_s
                wait_healthy(api, timeout_s, proc, should_stop)
                if not _answers_as(api, home, proc, deadline):
                    raise ServeError(port_taken(port))
                yield api
            finally:
                stop_group(proc)


def port_taken(port: int) -> str:
    return (
        f"port {port} is taken by {describe_listener(port)}, which this marsad serve did not "
        f"start; stop it, choose another --port, or use that server explicitly with "
        f"PREFECT_API_URL=http://{HOST}:{port}/api"
    )


def stop_process(proc: subprocess.Popen[bytes], sig: int, timeout_s: float = 30) -> None:
    """Ask a child to stop with `sig`; kill it if it has not after `timeout_s`."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_group(proc: subprocess.Popen[bytes], timeout_s: float = 5) -> None:
    """SIGTERM a session-leader child and its process group; SIGKILL after `timeout_s`."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def default_home(out: str) -> Path:
    """The local server's PREFECT_HOME: under DIR when DIR is a local path, else ~/.marsad."""
    if "://" in out:
        return Path.home() / ".marsad" / "prefect"
    return Path(out).resolve() / ".prefect"
