"""Fetch stage: read feeds, then fetch articles politely over httpx.

Plain async functions hold the logic; `discover_task` and `fetch_task` are
thin Prefect wrappers that each handle a whole batch.
"""

from __future__ import annotations

import asyncio
import calendar
import random
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import feedparser
import httpx

from marsad.charset import decode
from marsad.netguard import BlockedAddress, check_url
from marsad.record import Article, Failure, FeedItem
from marsad.settings import Settings
from marsad.sources import Source

HTML_TYPES = ("text/html", "application/xhtml+xml")
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)


class FetchError(Exception):
    """A URL that could not be fetched; `reason` is what lands in the failures table."""

    def __init__(self, reason: str, transient: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after


@dataclass(slots=True)
class Response:
    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    attempts: int


def now() -> datetime:
    return datetime.now(UTC)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def backoff_delay(attempt: int, settings: Settings, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a server's Retry-After wins, up to the cap."""
    if retry_after is not None:
        return min(retry_after, settings.backoff_max_s)
    ceiling = min(settings.backoff_max_s, settings.backoff_base_s * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


class HostLimiter:
    """Global and per-host concurrency, plus a minimum delay between requests to a host."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.global_sem = asyncio.Semaphore(settings.global_concurrency)
        self.host_sems: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host_concurrency)
        )
        self.next_slot: dict[str, float] = defaultdict(float)
        self.lock = asyncio.Lock()

    async def acquire(self, host: str) -> None:
        await self.host_sems[host].acquire()
        async with self.lock:
            start = max(time.monotonic(), self.next_slot[host])
            self.next_slot[host] = start + self.settings.per_host_delay_s
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        await self.global_sem.acquire()

    def release(self, host: str) -> None:
        self.global_sem.release()
        self.host_sems[host].release()


def make_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        timeout=settings.timeout_s,
        follow_redirects=False,  # every hop goes through the SSRF guard
        trust_env=False,
    )


async def _get_once(
    client: httpx.AsyncClient, url: str, settings: Settings, limiter: HostLimiter
) -> tuple[str, httpx.Response, bytes]:
    seen = {url}
    current = url
    for _hop in range(settings.max_redirects + 1):
        try:
            await check_url(current, settings.allow_private_networks)
        except BlockedAddress as exc:
            raise FetchError(str(exc)) from None
        host = urlsplit(current).netloc
        await limiter.acquire(host)
        try:
            async with client.stream("GET", current) as resp:
                if resp.is_redirect:
                    location = resp.headers.get("location")
                    if not location:
                        raise FetchError(f"HTTP {resp.status_code} without Location")
                    nxt = urljoin(current, location)
                    if nxt in seen:
                        raise FetchError(f"redirect loop at {nxt}")
                    seen.add(nxt)
                    current = nxt
                    continue
                body = await _read_limited(resp, settings.max_body_bytes)
                return current, resp, body
        except httpx.TimeoutException:
            raise FetchError("timeout", transient=True) from None
        except httpx.TransportError as exc:
            raise FetchError(f"connection error: {type(exc).__name__}", transient=True) from None
        finally:
            limiter.release(host)
    raise FetchError(f"too many redirects (> {settings.max_redirects})")


async def _read_limited(resp: httpx.Response, limit: int) -> bytes:
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FetchError(f"body too large: {declared} bytes declared (limit {limit})")
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.aiter_bytes():  # decompressed bytes: bounds bombs too
        total += len(chunk)
        if total > limit:
            raise FetchError(f"body too large: over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch_url(
    client: httpx.AsyncClient, url: str, settings: Settings, limiter: HostLimiter
) -> Response:
    """GET with retries on transient errors (timeouts, 429, 5xx), honouring Retry-After."""
    last: FetchError | None = None
    for attempt in range(1, settings.max_attempts + 1):
        try:
            final, resp, body = await _get_once(client, url, settings, limiter)
            status = resp.status_code
            if status in TRANSIENT_STATUS:
                raise FetchError(
                    f"HTTP {status}",
                    transient=True,
                    retry_after=parse_retry_after(resp.headers.get("retry-after")),
                )
            if status >= 400:
                raise FetchError(f"HTTP {status}")
            ctype = resp.headers.get("content-type", "")
            return Response(url, final, status, ctype, body, attempt)
        except FetchError as exc:
            exc.attempts = attempt  # type: ignore[attr-defined]
            last = exc
            if not exc.transient or attempt == settings.max_attempts:
                raise
            await asyncio.sleep(backoff_delay(attempt, settings, exc.retry_after))
    raise last  # type: ignore[misc]  # unreachable: the loop returns or raises


def _feed_datetime(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        st = entry.get(key)
        if st:
            return datetime.fromtimestamp(calendar.timegm(st), UTC)
    return None


def parse_feed(body: bytes, feed_url: str, source: Source, limit: int) -> list[FeedItem]:
    """RSS/Atom to feed items. Entity declarations are refused outright (XML bombs)."""
    if _ENTITY_DECL.search(body[:65536]):
        raise FetchError("feed declares XML entities (refused)")
    parsed = feedparser.parse(body, response_headers={"content-location": feed_url})
    if not parsed.entries and parsed.get("bozo"):
        raise FetchError(f"not a feed: {type(parsed.bozo_exception).__name__}")
    items = []
    for entry in parsed.entries[:limit]:
        link = entry.get("link")
        if not link:
            continue
        items.append(
            FeedItem(
                url=urljoin(feed_url, link),
                source=source.name,
                feed_title=entry.get("title"),
                feed_published_at=_feed_datetime(entry),
                language_hint=source.language,
            )
        )
    return items


def _attempts(exc: FetchError) -> int:
    return getattr(exc, "attempts", 1)


async def discover(
    sources: Sequence[Source], settings: Settings, run_id: str
) -> tuple[list[FeedItem], list[Failure]]:
    """Read every source's feeds and direct URLs into feed items."""
    items: list[FeedItem] = []
    failures: list[Failure] = []
    limiter = HostLimiter(settings)
    async with make_client(settings) as client:

        async def one_feed(src: Source, feed: str) -> None:
            try:
                resp = await fetch_url(client, feed, settings, limiter)
                items.extend(
                    parse_feed(resp.body, resp.final_url, src, settings.max_items_per_feed)
                )
            except FetchError as exc:
                failures.append(
                    Failure(
                        feed,
                        src.name,
                        "fetch",
                        f"feed: {exc.reason}",
                        _attempts(exc),
                        run_id,
                        now(),
                    )
                )

        await asyncio.gather(*(one_feed(s, f) for s in sources for f in s.feeds))
    for src in sources:
        items.extend(FeedItem(url=u, source=src.name, language_hint=src.language) for u in src.urls)
    return items, failures


def _is_html(ctype: str, body: bytes) -> bool:
    mime = ctype.split(";")[0].strip().lower()
    if mime:
        return mime in HTML_TYPES
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


async def fetch_articles(
    items: Iterable[FeedItem], settings: Settings, run_id: str
) -> tuple[list[Article], list[Failure]]:
    """Fetch a batch of article URLs concurrently within the politeness limits."""
    articles: list[Article] = []
    failures: list[Failure] = []
    limiter = HostLimiter(settings)
    async with make_client(settings) as client:

        async def one(item: FeedItem) -> None:
            try:
                resp = await fetch_url(client, item.url, settings, limiter)
            except FetchError as exc:
                failures.append(
                    Failure(
                        item.url, item.source, "fetch", exc.reason, _attempts(exc), run_id, now()
                    )
                )
                return
            if not _is_html(resp.content_type, resp.body):
                mime = resp.content_type.split(";")[0].strip() or "unknown type"
                failures.append(
                    Failure(
                        item.url,
                        item.source,
                        "fetch",
                        f"not HTML: {mime}",
                        resp.attempts,
                        run_id,
                        now(),
                    )
                )
                return
            articles.append(
                Article(
                    url=item.url,
                    source=item.source,
                    fetched_at=now(),
                    html=decode(resp.body, resp.content_type),
                    final_url=resp.final_url,
                    feed=item,
                    attempts=resp.attempts,
                    run_id=run_id,
                )
            )

        await asyncio.gather(*(one(i) for i in items))
    return articles, failures


# --- Prefect wrappers: thin, one task run per batch -------------------------------------------

from prefect import task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.tasks import exponential_backoff  # noqa: E402

# Per-URL retries (with Retry-After) happen inside fetch_url; these task-level retries
# re-run a batch only when the task itself crashed (e.g. the event loop died).
_RETRY = {
    "retries": 2,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
}


@task(name="discover", cache_policy=NO_CACHE, **_RETRY)
def discover_task(
    sources: Sequence[Source], settings: Settings, run_id: str
) -> tuple[list[FeedItem], list[Failure]]:
    return asyncio.run(discover(sources, settings, run_id))


@task(name="fetch", cache_policy=NO_CACHE, **_RETRY)
def fetch_task(
    items: Sequence[FeedItem], settings: Settings, run_id: str
) -> tuple[list[Article], list[Failure]]:
    return asyncio.run(fetch_articles(items, settings, run_id))
