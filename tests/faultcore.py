"""The fault server's core: the request log, per-host concurrency counts and the sockets.

`RecordingHandler` logs every request (host, path, headers, time), counts requests in flight
per host, and dispatches each path to the method its `routes` name; the misbehaviours
themselves are in faultroutes.py. `serve_hosts` gives each loopback host its own listening
socket (same handler, same log); per-host counts key on the address that got the request.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Hit:
    host: str
    path: str
    headers: dict[str, str]
    at: float


@dataclass
class FaultState:
    log: list[Hit] = field(default_factory=list)
    active: Counter[str] = field(default_factory=Counter)
    max_active: Counter[str] = field(default_factory=Counter)
    per_path: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    latency_s: float = 0.0
    feed_version: int = 1  # bump to change the feed's content (and ETag)
    robots: str = "User-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap_index.xml\n"
    n_articles: int = 3
    feed_path: str = "article"  # the feed links /<feed_path>/<i>.html (e.g. "slow")
    robots_status: int = 200

    def hits(self, pattern: str = "") -> list[Hit]:
        with self.lock:
            return [h for h in self.log if re.search(pattern, h.path)]


class RecordingHandler(BaseHTTPRequestHandler):
    """Logs and counts every GET, then answers with the method `routes` names for its path."""

    protocol_version = "HTTP/1.1"
    state: FaultState
    port: int
    routes: tuple[tuple[str, str], ...] = ()  # (path regex, method name); subclasses fill it

    def log_message(self, format: str, *args: object) -> None:
        pass

    # --- plumbing --------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return str(self.connection.getsockname()[0])

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def send(
        self,
        status: int,
        body: bytes | str = b"",
        ctype: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self._done()  # before the bytes leave: the client cannot start its next request earlier
        self.end_headers()
        self.wfile.write(data)

    def _done(self) -> None:
        """This request no longer counts as in flight (idempotent)."""
        if getattr(self, "_in_flight", False):
            self._in_flight = False
            with self.state.lock:
                self.state.active[self.host] -= 1

    def do_GET(self) -> None:
        st = self.state
        path = self.path.split("?", 1)[0]
        with st.lock:
            st.log.append(Hit(self.host, self.path, dict(self.headers.items()), time.monotonic()))
            st.active[self.host] += 1
            st.max_active[self.host] = max(st.max_active[self.host], st.active[self.host])
            st.per_path[path] += 1
            count = st.per_path[path]
        self._in_flight = True
        try:
            if st.latency_s:
                time.sleep(st.latency_s)
            handler = self.route(path)
            if handler is None:
                self.send(404, "<html><body>not found</body></html>")
            else:
                handler(path, count)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self._done()

    def route(self, path: str) -> Callable[[str, int], None] | None:
        for pattern, name in self.routes:
            if re.fullmatch(pattern, path):
                found: Callable[[str, int], None] = getattr(self, name)
                return found
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client hung up on purpose (aborted body, timeout): not news
        super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serve_hosts(
    handler: type[RecordingHandler],
    hosts: tuple[str, ...] = ("127.0.0.1",),
    state: FaultState | None = None,
) -> Iterator[tuple[dict[str, str], FaultState]]:
    """Start one listening socket per loopback host, all on the same port when possible,
    each answering with (a subclass of) `handler` bound to one shared state.

    Yields ({host: base_url}, state).
    """
    for h in hosts:
        if not h.startswith("127."):
            raise ValueError(f"loopback only, got {h}")
    st = state or FaultState()
    servers: list[_Server] = []
    bases: dict[str, str] = {}
    try:
        first = None
        for h in hosts:
            bound: type[RecordingHandler] = type("Bound", (handler,), {"state": st, "port": 0})
            srv = _Server((h, first or 0), bound)
            port = srv.server_address[1]
            first = first or port
            bound.port = port
            servers.append(srv)
            bases[h] = f"http://{h}:{port}"
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        yield bases, st
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()


def per_host_log(state: FaultState) -> dict[str, list[Hit]]:
    out: dict[str, list[Hit]] = defaultdict(list)
    for h in state.hits():
        out[h.host].append(h)
    return out


@contextmanager
def loopback(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """One threaded HTTP server on 127.0.0.1 (a free port) answering with `handler`; yields
    its base URL and shuts it down after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
