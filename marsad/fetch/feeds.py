"""RSS/Atom parsing, recognised by content, and feed discovery from a homepage.

Entities are refused before feedparser sees the bytes: feedparser's strict parser
is expat, which expands internal entities, so a billion-laughs feed would cost
gigabytes. defusedxml stops at the first entity declaration instead.

No input stops a run: a malformed URL in a feed or a homepage is skipped, and anything else
that goes wrong in a parser surfaces as `NotAFeed` (tests/test_fuzz*.py hold them to it).
"""

from __future__ import annotations

import calendar
import io
import re
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import ParseError

import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from marsad.record import FeedItem

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
_ROOTS = re.compile(rb"<(?:[a-z0-9]+:)?(rss|feed|RDF|urlset|sitemapindex)\b", re.I)
_ALL_DTD = re.compile(rb"<!ENTITY", re.I)


class NotAFeed(ValueError):
    """The bytes are not a feed or sitemap; the message says why."""


def join_url(base: str, ref: str) -> str | None:
    """`urljoin`, or None for a URL that cannot be one (`http://[::1/`, a port past 65535)."""
    try:
        url = urljoin(base, ref)
        urlsplit(url).port  # noqa: B018 (raises on a bad port or IPv6 literal)
    except ValueError:
        return None
    return url


def sniff(body: bytes) -> str | None:
    """'rss', 'atom', 'rdf', 'urlset' or 'sitemapindex' from the document's root element."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] != b"<":
        return None
    m = _ROOTS.search(head)
    if not m:
        return None
    root = m.group(1).decode().lower()
    return {"feed": "atom", "rdf": "rdf"}.get(root, root)


def refuse_entities(body: bytes) -> None:
    """Raise NotAFeed when the document declares entities (XML bombs, external entities)."""
    try:
        safe_fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise NotAFeed(f"XML declares entities (refused: {type(exc).__name__})") from None
    except ParseError:
        # Malformed XML: feedparser's lenient parser copes, but only without a DTD.
        if _ALL_DTD.search(body[:65536]):
            raise NotAFeed("XML declares entities (refused)") from None


def _entry_datetime(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        st = dict.get(entry, key)  # plain get: feedparser's own maps one key to the other, warning
        if st:
            try:
                return datetime.fromtimestamp(calendar.timegm(st), UTC)
            except (OverflowError, ValueError, OSError, TypeError):  # year 0 or past 9999
                continue
    return None


def parse_feed(
    body: bytes, feed_url: str, source: str, language: str, limit: int
) -> list[FeedItem]:
    """RSS/Atom bytes to feed items, newest first as the feed lists them; else NotAFeed."""
    try:
        return _parse_feed(body, feed_url, source, language, limit)
    except NotAFeed:
        raise
    except Exception as exc:  # a parser's surprise costs this feed, never the run
        raise NotAFeed(f"unreadable feed ({type(exc).__name__}: {exc})") from exc


def _parse_feed(
    body: bytes, feed_url: str, source: str, language: str, limit: int
) -> list[FeedItem]:
    kind = sniff(body)
    if kind not in ("rss", "atom", "rdf"):
        raise NotAFeed("not a feed: no rss, feed or RDF root element")
    refuse_entities(body)
    # A stream, not bytes: feedparser would try bytes as a file name first.
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-location": feed_url})
    if not parsed.entries and parsed.get("bozo"):
        raise NotAFeed(f"not a feed: {type(parsed.bozo_exception).__name__}")
    items = []
    for entry in parsed.entries[:limit]:
        link = entry.get("link")
        url = join_url(feed_url, link) if isinstance(link, str) and link else None
        if url is None:
            continue
        title = entry.get("title")
        items.append(
            FeedItem(
                url=url,
                source=source,
                feed_title=title if isinstance(title, str) else None,
                feed_published_at=_entry_datetime(entry),
                language_hint=language,
            )
        )
    return items


def within_window(when: datetime | None, now: datetime, window: timedelta | None) -> bool:
    """Undated items count: a feed or sitemap that gives no date is not evidence of age."""
    return window is None or when is None or when >= now - window


class _LinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href") and self.base is None:
            self.base = a["href"]
        if tag != "link" or "alternate" not in a.get("rel", "").lower().split():
            return
        if a.get("type", "").split(";")[0].strip().lower() in FEED_TYPES and a.get("href"):
            self.links.append(a["href"])


def discover_feed_links(html: str, page_url: str, limit: int = 10) -> list[str]:
    """Feeds a homepage announces with <link rel="alternate" type="application/rss+xml">.

    Never raises: a malformed href or <base> is skipped, and what the HTML parser read
    before it gave up still counts."""
    finder = _LinkFinder()
    with suppress(Exception):  # html.parser has asserted on odd markup: keep what it found
        finder.feed(html[:500_000])
    base = (join_url(page_url, finder.base) if finder.base else None) or page_url
    seen: list[str] = []
    for href in finder.links:
        url = join_url(base, href.strip())
        if url and url.startswith(("http://", "https://")) and url not in seen:
            seen.append(url)
    return seen[:limit]
