"""Is the server on the port the one marsad started? Asked of real loopback HTTP servers."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from faultcore import loopback

from marsad.prefect_server import _answers_as


@contextmanager
def settings_server(home: str, delay_s: float) -> Iterator[str]:
    """/api/admin/settings answers `home`, the first time only after `delay_s` (a server
    busy starting up)."""
    first = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if not first.is_set():
                first.set()
                time.sleep(delay_s)
            body = json.dumps({"home": home}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with loopback(Handler) as base:
        yield f"{base}/api"


@contextmanager
def child() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_slow_answer_from_our_own_server_is_still_ours(tmp_path: Path) -> None:
    # The first request times out after 3 s (the answer takes 4): asked again, it is ours.
    with settings_server(str(tmp_path), 4.0) as api, child() as proc:
        assert _answers_as(api, tmp_path, proc, time.monotonic() + 20)


def test_another_home_is_not_ours_and_a_dead_child_is_not_either(tmp_path: Path) -> None:
    with settings_server("/somewhere/else", 0.0) as api, child() as proc:
        assert not _answers_as(api, tmp_path, proc, time.monotonic() + 20)
        proc.kill()
        proc.wait()
    with settings_server(str(tmp_path), 0.0) as api, child() as proc:
        proc.kill()
        proc.wait()
        assert not _answers_as(api, tmp_path, proc, time.monotonic() + 20)
