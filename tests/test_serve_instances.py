"""A second `marsad serve` never takes over the first (issue 12, reproduction 3).

- The port it would start its server on is held (by a Prefect server or anything else):
  it refuses, names the port and what holds it, and registers or pauses nothing.
- The server already holds deployments of that name with other sources or out: it refuses
  naming the deployment and both values, unless --replace; a stopping instance pauses only
  what it registered and still carries its parameters, never what another live runner serves.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from serveharness import deployments, running_serve, serve_env, wait_for

from marsad.prefect_server import free_port, local_server

pytestmark = pytest.mark.slow
NAMES = {"monitor-default", "backfill", "reprocess", "retry-failures", "compact", "cleanup"}
YEARLY = ["--schedule", "default=0 0 1 1 *"]  # no scheduled monitor run during a test


def _sources(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - {name: a, feeds: ['http://127.0.0.1:9/feed.xml']}\n", "utf-8")
    return path


def _serve_once(
    args: list[str], cwd: Path, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marsad.cli", "serve", *args],
        env=serve_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def _paused(api: str) -> dict[str, bool]:
    return {name: d["paused"] for name, d in deployments(api).items()}


def test_a_port_held_by_a_prefect_server_is_refused(prefect_server: str, tmp_path: Path) -> None:
    port = urlsplit(prefect_server).port
    before = _paused(prefect_server)
    out = tmp_path / "out"
    args = ["--sources", str(_sources(tmp_path)), "--out", str(out), "--port", str(port)]
    done = _serve_once(args, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"port {port} is taken by a Prefect server 3." in done.stderr
    assert f"PREFECT_API_URL=http://127.0.0.1:{port}/api" in done.stderr
    assert "started a local Prefect server" not in done.stdout
    assert "Traceback" not in done.stderr
    assert _paused(prefect_server) == before  # nothing registered, nothing paused
    assert not any(
        d["parameters"].get("out") == str(out) for d in deployments(prefect_server).values()
    )
    assert not (out / ".prefect").exists()


def test_a_port_held_by_anything_else_is_refused(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        args = [
            "--sources",
            str(_sources(tmp_path)),
            "--out",
            str(tmp_path / "o"),
            "--port",
            str(port),
        ]
        done = _serve_once(args, tmp_path)
    assert done.returncode == 2
    assert f"port {port} is taken by a program that is not a Prefect server" in done.stderr


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of this module's own: its deployments must not meet other tests' ones."""
    with local_server(tmp_path_factory.mktemp("owners-home"), free_port()) as api:
        yield api


def test_other_instances_deployments_are_refused_replaced_and_left_unpaused(
    own_server: str, tmp_path: Path
) -> None:
    api = own_server
    sources = _sources(tmp_path)
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    env = serve_env(api)
    first = ["--sources", str(sources), "--out", str(out_a), *YEARLY]
    (tmp_path / "first").mkdir()
    with running_serve(first, tmp_path / "first", env) as a:
        deps = wait_for(
            "A's deployments", lambda: set(d := deployments(api)) >= NAMES and d, 180, a.proc
        )
        wait_for(
            "A polling", lambda: deployments(api)["monitor-default"]["last_polled"], 60, a.proc
        )
        assert deps["compact"]["schedules"][0]["schedule"]["cron"] == "30 2 * * *"
        assert deps["cleanup"]["parameters"] == {"older_than_days": 30}

        # B, other out: refused, naming the deployment and both values; nothing changed
        b_args = ["--sources", str(sources), "--out", str(out_b), *YEARLY]
        done = subprocess.run(
            [sys.executable, "-m", "marsad.cli", "serve", *b_args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert "deployment 'monitor-default'" in done.stderr
        assert f"its out is '{out_a}', this one's is '{out_b}'" in done.stderr
        assert "--replace" in done.stderr
        now = deployments(api)
        assert now["monitor-default"]["parameters"]["out"] == str(out_a)
        assert not any(d["paused"] for d in now.values())

        # C, the same sources and out while A serves them: it serves too, and on SIGTERM
        # leaves A's schedules running
        (tmp_path / "c").mkdir()
        with running_serve(first, tmp_path / "c", env) as c:
            wait_for("C to serve", lambda: "Ctrl-C stops" in c.output(), 180, c.proc)
            assert "monitor-default: another runner serves it too" in c.output()
            c.proc.send_signal(signal.SIGTERM)
            assert c.wait(30) == 0
            assert c.output().strip().endswith("0 runs finished, 0 cancelled")
        assert not any(d["paused"] for d in deployments(api).values()), "C paused A's deployments"

        # B with --replace takes them over; stopped, it pauses what it registered
        (tmp_path / "b").mkdir()
        with running_serve([*b_args, "--replace"], tmp_path / "b", env) as b:
            wait_for("B to serve", lambda: "Ctrl-C stops" in b.output(), 180, b.proc)
            assert deployments(api)["monitor-default"]["parameters"]["out"] == str(out_b)
            b.proc.send_signal(signal.SIGTERM)
            assert b.wait(30) == 0
            assert "cleanup: another runner serves it too" in b.output()  # A's and B's alike
        paused = _paused(api)
        assert all(paused[n] for n in NAMES - {"cleanup"}), paused
        assert not paused["cleanup"]

        # and A, stopping now, leaves B's monitor alone (it no longer carries A's out) but
        # pauses cleanup (its parameters are A's as much as B's)
        resumed = httpx.post(f"{api}/deployments/{deps['monitor-default']['id']}/resume_deployment")
        assert resumed.status_code in (200, 204), resumed.text
        a.proc.send_signal(signal.SIGTERM)
        assert a.wait(30) == 0
    after = deployments(api)
    assert after["monitor-default"]["paused"] is False
    assert after["monitor-default"]["parameters"]["out"] == str(out_b)
    assert after["cleanup"]["paused"] is True
