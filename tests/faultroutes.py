"""The fault server's misbehaviours: every path is one (see `FaultHandler.routes`)."""

from __future__ import annotations

import gzip
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from faultcore import RecordingHandler
from faultpages import CHALLENGE, XML_BOMB, article_html, gzip_bomb


class FaultHandler(RecordingHandler):
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
        links = [
            f"{self.base}/{st.feed_path}/{i}.html?utm_source=rss" for i in range(st.n_articles)
        ]
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
