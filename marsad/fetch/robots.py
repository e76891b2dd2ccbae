"""robots.txt through protego, cached per host (memory, then the state store) with expiry.

RFC 9309: a 4xx robots.txt means no rules; a 5xx (and 429, as Google reads it), an
unreachable or an undecodable one means "disallow everything" until it can be read, so an
outage never turns into an impolite crawl. Failed reads are cached in memory only, for this
batch. Only the first 500 KiB are read and parsed (RFC 9309 2.5): a longer file is cut at
its last whole line within them, never taken for a missing one (which would allow all).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from protego import Protego

from marsad.fetch.body import prefix_only
from marsad.state import StateStore

MAX_ROBOTS_BYTES = 512_000  # Google reads the first 500 KiB
DISALLOWED = "disallowed by robots.txt"
RobotsFetcher = Callable[[str], Awaitable[tuple[int, bytes]]]


class RobotsUnavailable(Exception):
    """robots.txt could not be read (5xx or network): everything is disallowed for now."""


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def robots_prefix(body: bytes) -> bytes:
    """What is parsed of a robots.txt body: all of it up to MAX_ROBOTS_BYTES; past that, the
    whole lines within the limit (a rule cut mid-path could allow more than it says)."""
    if len(body) <= MAX_ROBOTS_BYTES:
        return body
    head = body[:MAX_ROBOTS_BYTES]
    cut = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return head[: cut + 1] if cut >= 0 else b""


class _Rules:
    __slots__ = ("body", "parser", "unavailable")

    def __init__(self, status: int, body: bytes | None) -> None:
        self.unavailable: str | None = None
        self.parser: Protego | None = None
        self.body = b""  # what was parsed, and what the state store keeps
        if status >= 500 or status == 429 or body is None:
            self.unavailable = (
                f"robots.txt unavailable (HTTP {status})" if status else "robots.txt unreachable"
            )
        elif 200 <= status < 300:
            self.body = robots_prefix(body)
            self.parser = Protego.parse(self.body.decode("utf-8", errors="replace"))


class RobotsPolicy:
    def __init__(
        self,
        fetch: RobotsFetcher,
        user_agent: str,
        ttl_s: float,
        state: StateStore | None = None,
    ) -> None:
        self.fetch = fetch
        self.agent = user_agent.split("/", 1)[0]  # product token: "marsad"
        self.ttl_s = ttl_s
        self.state = state
        self._cache: dict[str, tuple[float, _Rules]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _rules(self, url: str) -> _Rules:
        key = robots_url(url)
        hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one robots.txt request per host, however many URLs wait on it
            hit = self._cache.get(key)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            stored = self.state.robots(key, self.ttl_s) if self.state else None
            if stored is not None:
                rules = _Rules(*stored)
            else:
                try:
                    with prefix_only(MAX_ROBOTS_BYTES + 1):  # one byte more: was it cut?
                        status, body = await self.fetch(key)
                except RobotsUnavailable as exc:
                    rules = _Rules(0, None)
                    rules.unavailable = f"robots.txt unreachable: {exc}"
                else:
                    rules = _Rules(status, body)
                    if self.state and rules.unavailable is None:
                        self.state.save_robots(key, status, rules.body)
            self._cache[key] = (time.monotonic() + self.ttl_s, rules)
            return rules

    async def check(self, url: str) -> tuple[str | None, float | None]:
        """(None, crawl delay) when `url` may be fetched, else (the reason it may not, None)."""
        rules = await self._rules(url)
        if rules.unavailable:
            return rules.unavailable, None
        if rules.parser is None:
            return None, None
        if not rules.parser.can_fetch(url, self.agent):
            return DISALLOWED, None
        return None, rules.parser.crawl_delay(self.agent)

    async def sitemaps(self, url: str) -> list[str]:
        rules = await self._rules(url)
        return list(rules.parser.sitemaps) if rules.parser else []
