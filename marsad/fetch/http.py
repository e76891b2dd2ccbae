"""HTTP basics shared by every fetch: errors, responses, backoff, per-host limits, the client."""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from marsad.fetch.netguard import DEFAULT_LIMITS, GuardedTransport
from marsad.settings import Settings

HTML_TYPES = ("text/html", "application/xhtml+xml")
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
REDIRECT_STATUS = {301, 302, 303, 307, 308}  # not httpx's is_redirect: that includes 304

MAX_CRAWL_DELAY_S = 30.0  # a Crawl-delay of hours would stall a run; cap it


class FetchError(Exception):
    """A URL that could not be fetched; `reason` is what lands in the failures table."""

    def __init__(
        self,
        reason: str,
        transient: bool = False,
        retry_after: float | None = None,
        attempts: int = 1,
    ):
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        self.attempts = attempts


@dataclass(slots=True)
class Response:
    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    attempts: int
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


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


def host_key(url: str) -> str:
    """Politeness is per server name, whatever the port or scheme ("" for a URL that has
    none or cannot be parsed: the fetch then fails on it with the reason)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


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

    async def acquire(self, host: str, delay: float | None = None) -> None:
        """`delay`: a site's own Crawl-delay, which wins when longer than ours."""
        gap = max(self.settings.per_host_delay_s, min(delay or 0.0, MAX_CRAWL_DELAY_S))
        await self.host_sems[host].acquire()
        async with self.lock:
            start = max(time.monotonic(), self.next_slot[host])
            self.next_slot[host] = start + gap
        wait = start - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        await self.global_sem.acquire()

    def release(self, host: str) -> None:
        self.global_sem.release()
        self.host_sems[host].release()


def make_client(
    settings: Settings,
    limits: httpx.Limits | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    transport = GuardedTransport(
        settings.allow_private_networks, limits=limits or DEFAULT_LIMITS, ssl_context=ssl_context
    )
    return httpx.AsyncClient(
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        timeout=settings.timeout_s,
        follow_redirects=False,  # every hop goes through the SSRF guard and robots.txt
        trust_env=False,
        transport=transport,
    )


def is_html(ctype: str, body: bytes) -> bool:
    mime = ctype.split(";")[0].strip().lower()
    if mime:
        return mime in HTML_TYPES
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))
