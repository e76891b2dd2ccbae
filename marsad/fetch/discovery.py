"""Discovery: every source's feeds, sitemaps and homepage, plus pending URLs and the retry
queue, as FeedItems.

With an output (a state store), what a feed or sitemap lists becomes pending in the same
transaction that saves its validators: a run that dies after a 200 leaves the URLs pending,
not hidden behind the next 304. Each source's step is guarded: a budget that runs out, a
stop request or any exception becomes a failure row of that feed, sitemap or homepage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from marsad.budget import Budget, is_deferred, within
from marsad.charset import decode
from marsad.fetch.feeds import NotAFeed, discover_feed_links, parse_feed, sniff, within_window
from marsad.fetch.http import FetchError, Response, now
from marsad.fetch.session import Session
from marsad.fetch.sitemaps import parse_sitemap
from marsad.record import Failure, FailureKind, FeedItem
from marsad.settings import Settings
from marsad.sources import Source


@dataclass
class Discovery:
    items: list[FeedItem] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    not_modified: list[tuple[str, str]] = field(default_factory=list)  # (source, url)
    tried: set[str] = field(default_factory=set)  # sources with a feed, sitemap or homepage
    answered: set[str] = field(default_factory=set)  # ...of which one answered (200 or 304)

    def all_failed(self) -> str | None:
        """Why discovery failed for every source that has something to discover, if it did."""
        if not self.tried or self.answered:
            return None
        if any(is_deferred(f.error) for f in self.failures):
            return None  # out of time or stopped: not a failure of the sources
        reasons = sorted({f.error for f in self.failures})
        shown = "; ".join(reasons[:5]) + (
            f"; … {len(reasons) - 5} more" if len(reasons) > 5 else ""
        )
        return f"every source failed at discovery: {shown}"


def _window(days: float | None) -> timedelta | None:
    return None if days is None else timedelta(days=days)


class _Discoverer:
    def __init__(self, session: Session, run_id: str, result: Discovery, budget: Budget) -> None:
        self.s = session
        self.budget = budget
        self.settings = session.settings
        self.run_id = run_id
        self.result = result
        self.started = now()
        self.sitemap_budget: dict[str, int] = {}  # sitemap fetches left per source

    def fail(
        self, url: str, src: Source, what: FailureKind, exc: FetchError | NotAFeed | str
    ) -> None:
        """A discovery failure: its kind is what `url` was (an unreadable robots.txt included:
        the feed, sitemap or homepage it guards is what failed); the error keeps its
        "<kind>: " prefix for people reading it."""
        reason = exc.reason if isinstance(exc, FetchError) else str(exc)
        attempts = exc.attempts if isinstance(exc, FetchError) else 1
        self.result.failures.append(
            Failure(url, src.name, "fetch", f"{what}: {reason}", attempts, self.run_id, now(), what)
        )

    async def _get(self, url: str, src: Source, what: FailureKind) -> Response | None:
        try:
            resp = await self.s.get(url, src.name, conditional=what != "homepage")
        except FetchError as exc:
            self.fail(url, src, what, exc)
            return None
        except Exception as exc:  # a bug or a library surprise must not sink the run
            self.fail(url, src, what, FetchError(f"unexpected {type(exc).__name__}: {exc}"))
            return None
        self.result.answered.add(src.name)
        if resp.not_modified:
            self.result.not_modified.append((src.name, url))
            return None
        return resp

    def keep(self, items: Iterable[FeedItem], window: timedelta | None) -> list[FeedItem]:
        kept = [i for i in items if within_window(i.feed_published_at, self.started, window)]
        self.result.items.extend(kept)
        return kept

    def commit(self, resp: Response, items: list[FeedItem]) -> None:
        """`items` pending and `resp`'s validators saved, in one transaction."""
        if self.s.state is None:
            return
        h = resp.headers
        self.s.state.record_discovery(
            resp.url, items, (h.get("etag"), h.get("last-modified"), resp.body)
        )

    async def guarded(self, job: Awaitable[None], src: Source, url: str, what: FailureKind) -> None:
        """One feed, sitemap or homepage: out of time, stopped or crashed, it is a failure row
        and the other sources go on."""
        try:
            if not await within(self.budget, job):
                self.fail(url, src, what, f"{what}: {self.budget.why_out()}")
        except Exception as exc:  # a bug or a library surprise must not sink the run
            self.fail(url, src, what, f"{what}: unexpected {type(exc).__name__}: {exc}")

    async def feed(self, src: Source, url: str) -> None:
        resp = await self._get(url, src, "feed")
        if resp is None:
            return
        try:
            if sniff(resp.body) in ("urlset", "sitemapindex"):
                await self._sitemap_body(src, resp, depth=0)
                return
            items = parse_feed(
                resp.body, resp.final_url, src.name, src.language, self.settings.max_items_per_feed
            )
        except (NotAFeed, FetchError) as exc:
            self.fail(url, src, "feed", exc)
            return
        self.commit(resp, self.keep(items, _window(self.settings.feed_window_days)))

    async def sitemap(self, src: Source, url: str, depth: int = 0) -> None:
        left = self.sitemap_budget.get(src.name, self.settings.max_sitemaps_per_source)
        if left <= 0:
            return
        self.sitemap_budget[src.name] = left - 1
        resp = await self._get(url, src, "sitemap")
        if resp is None:
            return
        try:
            await self._sitemap_body(src, resp, depth)
        except (NotAFeed, FetchError) as exc:
            self.fail(url, src, "sitemap", exc)

    async def _sitemap_body(self, src: Source, resp: Response, depth: int) -> None:
        window = _window(self.settings.discovery_window_days)
        parsed = parse_sitemap(
            resp.body, resp.final_url, src.name, src.language, self.settings.max_body_bytes
        )
        kept = self.keep(parsed.items[: self.settings.max_items_per_feed], window)
        if depth < 2:  # an index of indexes of indexes is a loop or a trap
            fresh = [u for u, when in parsed.children if within_window(when, self.started, window)]
            for child in fresh:
                await self.sitemap(src, child, depth + 1)
        # an index's validators only once its children are read: saved before, a crash in
        # between would leave the children unread behind the index's next 304
        self.commit(resp, kept)

    async def homepage(self, src: Source, url: str) -> None:
        resp = await self._get(url, src, "homepage")
        sitemaps: list[str] = []
        if self.s.robots is not None:
            sitemaps = await self.s.robots.sitemaps(url)
        feeds: list[str] = []
        if resp is not None:
            feeds = discover_feed_links(decode(resp.body, resp.content_type), resp.final_url)
        feeds = [f for f in feeds if f not in src.feeds]
        sitemaps = [m for m in sitemaps if m not in src.sitemaps]
        if resp is not None and not feeds and not sitemaps and not (src.feeds or src.sitemaps):
            self.result.failures.append(
                Failure(
                    url,
                    src.name,
                    "fetch",
                    "homepage: no feed link and no sitemap in robots.txt",
                    resp.attempts,
                    self.run_id,
                    now(),
                    "homepage",
                )
            )
        await asyncio.gather(
            *(self.feed(src, f) for f in feeds), *(self.sitemap(src, m) for m in sitemaps)
        )


async def discover_all(
    sources: Sequence[Source],
    settings: Settings,
    run_id: str,
    out: str | Path | None = None,
    budget: Budget | None = None,
) -> Discovery:
    """Pending URLs first, then every source's feeds, sitemaps, homepage and listed URLs,
    then the retry queue."""
    result = Discovery()
    async with Session(settings, run_id, out, "discover") as session:
        d = _Discoverer(session, run_id, result, budget or Budget())
        names = {s.name for s in sources}
        if session.state is not None:  # what earlier runs found but did not finish: first
            result.items.extend(session.state.pending(names))
        jobs = []
        for src in sources:
            if src.feeds or src.sitemaps or src.homepage:
                result.tried.add(src.name)
            jobs += [d.guarded(d.feed(src, f), src, f, "feed") for f in src.feeds]
            jobs += [d.guarded(d.sitemap(src, m), src, m, "sitemap") for m in src.sitemaps]
            if src.homepage:
                jobs.append(d.guarded(d.homepage(src, src.homepage), src, src.homepage, "homepage"))
        await asyncio.gather(*jobs)
        for src in sources:
            result.items.extend(
                FeedItem(url=u, source=src.name, language_hint=src.language) for u in src.urls
            )
        if session.state is not None:
            result.items.extend(q.item for q in session.state.queued() if q.item.source in names)
    first: dict[str, FeedItem] = {}
    for item in result.items:  # a pending URL found again is one URL, in its first place
        first.setdefault(item.url, item)
    result.items = list(first.values())
    return result
