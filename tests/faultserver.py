"""A loopback web server that misbehaves on purpose, for the fetch stage's tests and benchmark.

Every path is one misbehaviour (see `FaultHandler.routes`, in faultroutes.py). The server
logs every request (host, path, headers, time) and counts concurrent requests per host, so
tests can assert on what marsad actually sent: robots.txt obeyed, per-host limit kept,
Retry-After waited out, validators sent.

Several hosts: pass `hosts=("127.0.0.2", "127.0.0.3", ...)`; on Linux the whole of
127.0.0.0/8 is loopback. Each host gets its own listening socket (same handler,
same log), and per-host counts key on the address that received the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from faultcore import FaultState, Hit, RecordingHandler, per_host_log, serve_hosts
from faultpages import ARABIC, CHALLENGE, WORDS, XML_BOMB, article_html, gzip_bomb
from faultroutes import FaultHandler

# The module is split (faultcore: log and sockets; faultroutes: misbehaviours; faultpages:
# bodies); these are its public names, importable from here as before.
__all__ = [
    "ARABIC",
    "CHALLENGE",
    "WORDS",
    "XML_BOMB",
    "FaultHandler",
    "FaultState",
    "Hit",
    "RecordingHandler",
    "article_html",
    "fault_server",
    "gzip_bomb",
    "per_host_log",
]


@contextmanager
def fault_server(
    hosts: tuple[str, ...] = ("127.0.0.1",), state: FaultState | None = None
) -> Iterator[tuple[dict[str, str], FaultState]]:
    """Start one listening socket per loopback host, all on the same port when possible.

    Yields ({host: base_url}, state).
    """
    with serve_hosts(FaultHandler, hosts, state) as found:
        yield found
