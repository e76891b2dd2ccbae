"""A loopback web server that misbehaves on purpose, for the fetch stage's tests and benchmark.

Every path is one misbehaviour (see `FaultHandler.routes`). The server logs every
request (host, path, headers, time) and counts concurrent requests per host, so
tests can assert on what marsad actually sent: robots.txt obeyed, per-host limit
kept, Retry-After waited out, validators sent.

Several hosts: pass `hosts=("127.0.0.2", "127.0.0.3", ...)`; on Linux the whole of
127.0.0.0/8 is loopback. Each host gets its own listening socket (same handler,
same log), and per-host counts key on the address that received the request.
"""

from __future__ import annotations

import gzip
import random
import re
import struct
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARABIC = (
    "أعلنت الحكومة اليوم عن خطة جديدة لدعم قطاع التعليم في المدن والقرى، "
    "وقال وزير التربية إن الخطة تشمل بناء مدارس جديدة وتدريب المعلمين. "
    "وأضاف أن الميزانية المخصصة للمشروع تبلغ ملياري دولار على مدى خمس سنوات، "
    "وأن العمل سيبدأ في الربع الأول من العام المقبل بالتعاون مع المنظمات الدولية. "
)


WORDS = [
    "الحكومة",
    "المدينة",
    "الوزير",
    "الاقتصاد",
    "التعليم",
    "المستشفى",
    "البرلمان",
    "الانتخابات",
    "السوق",
    "النفط",
    "المطار",
    "الجامعة",
    "الشركة",
    "المحكمة",
    "الشرطة",
    "الميناء",
    "المزارعين",
    "الطلاب",
    "الأسعار",
    "الموازنة",
    "الصحة",
    "الطاقة",
    "المياه",
    "الكهرباء",
    "الطرق",
    "المدارس",
    "القمح",
    "التجارة",
    "السياحة",
    "الثقافة",
]


def article_html(title: str, paragraphs: int = 6, charset_meta: bool = True, seed: int = 0) -> str:
    """A plausible Arabic article; `seed` makes the text its own (near-duplicate checks)."""
    rng = random.Random(seed)
    meta = '<meta charset="utf-8">' if charset_meta else ""
    body = "".join(
        f"<p>{ARABIC} {' '.join(rng.choice(WORDS) for _ in range(40))}.</p>"
        for _ in range(paragraphs)
    )
    return (
        f'<!DOCTYPE html><html lang="ar" dir="rtl"><head>{meta}<title>{title}</title></head>'
        f"<body><header><nav>الرئيسية | سياسة | اقتصاد</nav></header>"
        f"<article><h1>{title}</h1>{body}</article><footer>حقوق النشر</footer></body></html>"
    )


CHALLENGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    "<noscript>Enable JavaScript and cookies to continue</noscript>"
    "<script>window._cf_chl_opt={cvId:'3'};</script>"
    '<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1"></script>'
    "</body></html>"
)

XML_BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">\n'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n' for i in range(9))
    + ']>\n<rss version="2.0"><channel><title>&j;</title>'
    "<item><title>x</title><link>http://example.invalid/x</link></item></channel></rss>"
)


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
    robots_status: int = 200

    def hits(self, pattern: str = "") -> list[Hit]:
        with self.lock:
            return [h for h in self.log if re.search(pattern, h.path)]


_BOMB_CACHE: dict[int, bytes] = {}


def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes (a multiple of 1 MiB) as one gzip member, built in ~0.1 s.

    After a full flush the compressor forgets its window, so every further 1 MiB of
    zeros compresses to the same bytes: the stream is one piece repeated, plus a
    hand-written gzip header and trailer.
    """
    if size not in _BOMB_CACHE:
        mib = b"\0" * 1_048_576
        n = size // len(mib)
        c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        first = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
        steady = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
        crc = 0
        for _ in range(n):
            crc = zlib.crc32(mib, crc)
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        trailer = struct.pack("<II", crc, (n * len(mib)) & 0xFFFFFFFF)
        _BOMB_CACHE[size] = header + first + steady * (n - 1) + c.flush() + trailer
    return _BOMB_CACHE[size]


class FaultHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FaultState
    port: int

    def log_message(self, format: str, *args: object) -> None:
        pass

    # --- plumbing --------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.connection.getsockname()[0]

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
                return getattr(self, name)
        return None

    routes = (
        (r"/robots\.txt", "robots"),
        (r"/(article|private|page)/\d+\.html", "article"),
        (r"/cp1256/\d+\.html", "cp1256"),
        (r"/flaky/\d+\.html", "flaky"),
        (r"/ratelimit/\d+\.html", "ratelimit"),
        (r"/slow/\d+\.html", "slow"),
        (r"/drip\.html", "drip"),
        (r"/loop/[ab]", "loop"),
        (r"/to-metadata", "to_metadata"),
        (r"/huge\.html", "huge"),
        (r"/bomb\.html", "bomb"),
        (r"/truncated\.html", "truncated"),
        (r"/challenge\.html", "challenge"),
        (r"/image\.png", "image"),
        (r"/gone\.html", "gone"),
        (r"/feed\.xml", "feed"),
        (r"/lying-feed\.xml", "lying_feed"),
        (r"/bomb-feed\.xml", "bomb_feed"),
        (r"/home\.html", "home"),
        (r"/sitemap_index\.xml", "sitemap_index"),
        (r"/sitemap-news\.xml", "sitemap_news"),
        (r"/sitemap-pages\.xml\.gz", "sitemap_pages"),
        (r"/sitemap-old\.xml", "sitemap_old"),
        (r"/bench/\d+\.html", "bench"),
    )

    # --- behaviours ------------------------------------------------------------------------

    def robots(self, path: str, count: int) -> None:
        if self.state.robots_status != 200:
            self.send(self.state.robots_status, "robots.txt is having a bad day", "text/plain")
            return
        if not self.state.robots:
            self.send(404, "no robots")
            return
        self.send(200, self.state.robots.format(base=self.base), "text/plain")

    def article(self, path: str, count: int) -> None:
        n = path.rsplit("/", 1)[1].split(".")[0]
        self.send(200, article_html(f"خبر رقم {n} عن التعليم", seed=zlib.crc32(path.encode())))

    def bench(self, path: str, count: int) -> None:
        self.send(200, "<html><body><p>bench</p></body></html>")

    def cp1256(self, path: str, count: int) -> None:
        html = article_html("خبر بترميز ويندوز العربي", charset_meta=False, seed=1256)
        self.send(200, html.encode("cp1256"), "text/html")  # no charset anywhere

    def flaky(self, path: str, count: int) -> None:
        if count <= 2:
            self.send(503, "busy")
        else:
            self.article(path, count)

    def ratelimit(self, path: str, count: int) -> None:
        if count == 1:
            self.send(429, "slow down", headers={"Retry-After": "1"})
        else:
            self.article(path, count)

    def slow(self, path: str, count: int) -> None:
        time.sleep(3)
        self.article(path, count)

    def drip(self, path: str, count: int) -> None:
        """One byte every 0.1 s: no single read times out, only a whole-response deadline helps."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "600")
        self.end_headers()
        for _ in range(600):
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(0.1)

    def loop(self, path: str, count: int) -> None:
        nxt = "/loop/b" if path.endswith("a") else "/loop/a"
        self.send(302, "", headers={"Location": nxt})

    def to_metadata(self, path: str, count: int) -> None:
        self.send(302, "", headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    def huge(self, path: str, count: int) -> None:
        """200 MB, no Content-Length: only a streaming limit can stop it."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = b"<p>" + b"x" * 1_048_573
        for _ in range(200):
            self.wfile.write(chunk)

    def bomb(self, path: str, count: int) -> None:
        self.send(200, gzip_bomb(200 * 1_048_576), headers={"Content-Encoding": "gzip"})

    def truncated(self, path: str, count: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(article_html("مقطوع").encode()[:2000])
        self.wfile.flush()
        self.close_connection = True

    def challenge(self, path: str, count: int) -> None:
        self.send(200, CHALLENGE)

    def image(self, path: str, count: int) -> None:
        self.send(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")

    def gone(self, path: str, count: int) -> None:
        self.send(410, "gone")

    def _rss(self, links: list[str], version: int) -> str:
        when = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
        items = "".join(
            f"<item><title>خبر {i}</title><link>{link}</link><pubDate>{when}</pubDate></item>"
            for i, link in enumerate(links)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>fault feed v{version}</title><link>{self.base}/</link>{items}</channel></rss>"
        )

    def feed(self, path: str, count: int) -> None:
        st = self.state
        etag = f'"feed-v{st.feed_version}"'
        modified = "Sat, 28 Nov 2026 10:00:00 GMT"
        if self.headers.get("If-None-Match") == etag:
            self.send(304, b"", ctype="", headers={"ETag": etag})
            return
        links = [f"{self.base}/article/{i}.html?utm_source=rss" for i in range(st.n_articles)]
        self.send(
            200,
            self._rss(links, st.feed_version),
            "application/rss+xml; charset=utf-8",
            headers={"ETag": etag, "Last-Modified": modified},
        )

    def lying_feed(self, path: str, count: int) -> None:
        """The same ETag forever, while the items change on every request."""
        if self.headers.get("If-None-Match") == '"never-changes"':
            self.send(304, b"", ctype="", headers={"ETag": '"never-changes"'})
            return
        links = [f"{self.base}/page/{count}.html"]
        self.send(
            200,
            self._rss(links, count),
            "application/rss+xml",
            headers={"ETag": '"never-changes"'},
        )

    def bomb_feed(self, path: str, count: int) -> None:
        self.send(200, XML_BOMB, "application/rss+xml")

    def home(self, path: str, count: int) -> None:
        self.send(
            200,
            '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
            "</head><body>الرئيسية</body></html>",
        )

    def sitemap_index(self, path: str, count: int) -> None:
        recent = datetime.now(UTC).isoformat()
        self.send(
            200,
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{self.base}/sitemap-news.xml</loc><lastmod>{recent}</lastmod></sitemap>"
            f"<sitemap><loc>{self.base}/sitemap-pages.xml.gz</loc></sitemap>"
            f"<sitemap><loc>{self.base}/sitemap-old.xml</loc>"
            "<lastmod>2015-01-01T00:00:00Z</lastmod></sitemap></sitemapindex>",
            "application/xml",
        )

    def sitemap_news(self, path: str, count: int) -> None:
        recent = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
        self.send(
            200,
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"<url><loc>{self.base}/article/100.html</loc><news:news><news:publication>"
            "<news:name>Fault</news:name><news:language>ar</news:language></news:publication>"
            f"<news:publication_date>{recent}</news:publication_date>"
            "<news:title>خبر من خريطة الأخبار</news:title></news:news></url></urlset>",
            "application/xml",
        )

    def sitemap_pages(self, path: str, count: int) -> None:
        recent = datetime.now(UTC).date().isoformat()
        xml = (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{self.base}/article/101.html</loc><lastmod>{recent}</lastmod></url>"
            f"<url><loc>{self.base}/article/102.html</loc><lastmod>2016-05-01</lastmod></url>"
            "</urlset>"
        )
        self.send(200, gzip.compress(xml.encode()), "application/x-gzip")

    def sitemap_old(self, path: str, count: int) -> None:
        self.send(
            200,
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{self.base}/article/999.html</loc></url></urlset>",
            "application/xml",
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client hung up on purpose (aborted body, timeout): not news
        super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def fault_server(
    hosts: tuple[str, ...] = ("127.0.0.1",), state: FaultState | None = None
) -> Iterator[tuple[dict[str, str], FaultState]]:
    """Start one listening socket per loopback host, all on the same port when possible.

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
            handler = type("Bound", (FaultHandler,), {"state": st, "port": 0})
            srv = _Server((h, first or 0), handler)
            port = srv.server_address[1]
            first = first or port
            handler.port = port
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
