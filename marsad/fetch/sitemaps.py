"""XML sitemaps, Google-News sitemaps and sitemap indexes, gzipped or not.

Sitemaps list a site's whole archive, so only entries inside the discovery
window count; an index's children outside the window are not even fetched. A malformed
<loc> is skipped; anything else that goes wrong surfaces as `NotAFeed`, never as a crash.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from marsad.fetch.feeds import NotAFeed, join_url, sniff
from marsad.record import FeedItem

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class Sitemap:
    kind: str  # "urlset" or "sitemapindex"
    items: list[FeedItem] = field(default_factory=list)
    children: list[tuple[str, datetime | None]] = field(default_factory=list)


def gunzip_bounded(data: bytes, limit: int) -> bytes:
    """Inflate gzip data (every member), refusing to produce more than `limit` bytes.

    64 KiB of output at a time, so a bomb costs `limit` + 64 KiB of memory, not its ratio.
    Bytes after the last member that do not start another one are ignored, as gzip(1) does.
    """
    out = bytearray()
    buf = data
    try:
        while True:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while not d.eof:
                chunk = d.decompress(buf, 65536)
                out += chunk
                if len(out) > limit:
                    raise NotAFeed(f"gzip data inflates past {limit} bytes (refused)")
                buf = d.unconsumed_tail
                if not chunk and not buf:
                    raise NotAFeed("truncated gzip data")
            buf = d.unused_data
            if buf[:2] != GZIP_MAGIC:
                return bytes(out)
    except zlib.error as exc:
        raise NotAFeed(f"bad gzip data: {exc}") from None


def parse_w3c_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date; or year 1 at +05:00, before UTC's year 1
        return None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(el: Element, *path: str) -> str | None:
    """Text of the first descendant along local names, ignoring namespaces."""
    node: Element | None = el
    for name in path:
        node = next((c for c in node if _local(c.tag) == name), None) if node is not None else None
    return node.text.strip() if node is not None and node.text else None


def parse_sitemap(
    body: bytes, sitemap_url: str, source: str, language: str, max_bytes: int
) -> Sitemap:
    """Sitemap bytes (gzipped or not, recognised by content) to entries or child sitemaps.

    Raises only NotAFeed."""
    try:
        return _parse_sitemap(body, sitemap_url, source, language, max_bytes)
    except NotAFeed:
        raise
    except Exception as exc:  # a parser's surprise costs this sitemap, never the run
        raise NotAFeed(f"unreadable sitemap ({type(exc).__name__}: {exc})") from exc


def _parse_sitemap(
    body: bytes, sitemap_url: str, source: str, language: str, max_bytes: int
) -> Sitemap:
    if body[:2] == GZIP_MAGIC:
        body = gunzip_bounded(body, max_bytes)
    kind = sniff(body)
    if kind not in ("urlset", "sitemapindex"):
        raise NotAFeed("not a sitemap: no urlset or sitemapindex root element")
    try:
        root = safe_fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise NotAFeed(
            f"sitemap declares a DTD or entities (refused: {type(exc).__name__})"
        ) from None
    except ParseError as exc:
        raise NotAFeed(f"malformed sitemap XML: {exc}") from None
    result = Sitemap(kind)
    for el in root:
        loc = _child_text(el, "loc")
        if not loc:
            continue
        url = join_url(sitemap_url, loc)
        if url is None:
            continue
        if _local(el.tag) == "sitemap":
            result.children.append((url, parse_w3c_datetime(_child_text(el, "lastmod"))))
        elif _local(el.tag) == "url":
            news_date = _child_text(el, "news", "publication_date")
            when = parse_w3c_datetime(news_date) or parse_w3c_datetime(_child_text(el, "lastmod"))
            result.items.append(
                FeedItem(
                    url=url,
                    source=source,
                    feed_title=_child_text(el, "news", "title"),
                    feed_published_at=when,
                    language_hint=language,
                )
            )
    return result
