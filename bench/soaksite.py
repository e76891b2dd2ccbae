"""The loopback news site `bench/soak.py` leaves marsad running against.

It misbehaves the way real sites do, all at once: a feed that grows every minute and
answers 304 in between, pages that take seconds or trickle a byte at a time, pages that fail
twice before they work, a page whose `<meta charset>` is a Python codec (`hex`), links and
sitemap entries that are not URLs. It remembers every article URL it ever listed in a 200,
so the benchmark can check that each one ended as an article or a failure row.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "seeds" / "demo" / "articles"
BAD_LINKS = ("http://[::1/", "http://a:99999/x", "javascript:alert(1)", "\x00")


class Site:
    """What the site serves, as a function of time since it started (one step a minute)."""

    def __init__(self, step_s: float = 60.0, per_step: int = 3) -> None:
        self.t0 = time.monotonic()
        self.step_s = step_s
        self.per_step = per_step
        self.listed: set[str] = set()  # every article URL listed in a 200 response
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        pages = sorted(p for p in DEMO.glob("*.html") if ".cp1256." not in p.name)
        self.pages = [p.read_text(encoding="utf-8") for p in pages]
        self.bases: dict[str, str] = {}  # source name: its host's base URL
        self.frozen: int | None = None  # a step to stay at (the end of a soak)

    def step(self) -> int:
        if self.frozen is not None:
            return self.frozen
        return int((time.monotonic() - self.t0) // self.step_s)

    def freeze(self) -> None:
        """Stop growing: what is listed from now on is what has been listed."""
        self.frozen = self.step()

    def listing(self, name: str, base: str) -> tuple[str, list[str]]:
        """(ETag, article URLs) of a feed or sitemap now."""
        s = self.step()

        def links(kind: str, n: int) -> list[str]:
            return [f"{base}/{kind}/{i}.html" for i in range(n)]

        if name == "feed":  # grows every step
            return f'"news-{s}"', links("news", self.per_step * (s + 1))
        if name == "slow-feed":  # a new slow and a new trickling page every other step
            n = s // 2 + 1
            return f'"slow-{n}"', links("slow", n) + links("drip", n)
        if name == "flaky-feed":
            return f'"flaky-{s}"', links("flaky", s + 1)
        if name == "poison-sitemap":
            return f'"poison-{s // 3}"', links("poison", s // 3 + 1)
        raise KeyError(name)

    def article(self, kind: str, n: int) -> bytes:
        html = self.pages[n % len(self.pages)]
        marker = f"<p>نسخة {kind} رقم {n} من خبر الموقع التجريبي لاختبار التحمل.</p>"
        html = html.replace("</h1>", f"</h1>{marker}", 1)
        if kind == "poison":  # a charset that is a Python codec, not a text encoding
            html = html.replace("<head>", '<head><meta charset="hex">', 1)
        return html.encode("utf-8")


def rss(urls: list[str]) -> bytes:
    items = "".join(f"<item><title>خبر</title><link>{u}</link></item>" for u in urls)
    items += "".join(f"<item><link>{u}</link></item>" for u in BAD_LINKS)
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>soak</title>'
        f"{items}</channel></rss>"
    ).encode()


def sitemap(urls: list[str]) -> bytes:
    locs = "".join(f"<url><loc>{u}</loc></url>" for u in [*urls, *BAD_LINKS[:2]])
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
    ).encode()


def handler_for(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def send(self, status: int, body: bytes, ctype: str = "text/html", **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            with site.lock:
                site.hits[path] += 1
                count = site.hits[path]
            name = path.strip("/").removesuffix(".xml")
            if name in ("feed", "slow-feed", "flaky-feed", "poison-sitemap"):
                etag, urls = site.listing(name, f"http://{self.headers.get('Host', '')}")
                if self.headers.get("If-None-Match") == etag:
                    self.send(304, b"", ETag=etag)
                    return
                with site.lock:
                    site.listed.update(urls)
                body = sitemap(urls) if name == "poison-sitemap" else rss(urls)
                self.send(200, body, "application/xml", ETag=etag)
            elif path == "/robots.txt":
                self.send(200, b"User-agent: *\nAllow: /\n", "text/plain")
            elif path == "/home.html":
                links = "".join(f'<link rel="alternate" href="{u}">' for u in BAD_LINKS)
                self.send(200, f"<html><head>{links}</head><body>home</body></html>".encode())
            else:
                self.page(path, count)

        def page(self, path: str, count: int) -> None:
            parts = path.strip("/").split("/")
            if len(parts) != 2 or not parts[1].removesuffix(".html").isdigit():
                self.send(404, b"not here")
                return
            kind, n = parts[0], int(parts[1].removesuffix(".html"))
            if kind == "slow":
                time.sleep(5)
            elif kind == "flaky" and count <= 2:
                self.send(503, b"busy", Retry_After="1")
                return
            elif kind == "drip":  # a byte every 2 s: only a whole-response deadline ends it
                body = site.article(kind, n)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(2)
                return
            self.send(200, site.article(kind, n), "text/html; charset=utf-8")

    return Handler


SOURCES = ("news", "slow", "flaky", "poison")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up (marsad cancelling a trickling page) is not news."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def soak_site(step_s: float = 60.0) -> Iterator[Site]:
    """One server per source, each on its own loopback address (127.0.0.2, .3, ...), so
    per-host limits and budgets apply per source as they would on the web."""
    site = Site(step_s)
    servers = []
    for i, name in enumerate(SOURCES):
        server = QuietServer((f"127.0.0.{2 + i}", 0), handler_for(site))
        host, port = server.server_address[:2]
        site.bases[name] = f"http://{host!s}:{port}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield site
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
