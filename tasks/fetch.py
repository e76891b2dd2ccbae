"""Fetch stage: discover article URLs, then fetch them politely and defensively over httpx.

Plain async functions hold the logic; `discover_task` and `fetch_task` are thin
Prefect wrappers that each handle a whole batch. A `Session` is what one batch
shares: the HTTP client (whose sockets go through the SSRF guard), the per-host
limiter, the robots.txt cache, the state store and the batch's WARC file.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx

from marsad.challenge import detect_challenge
from marsad.charset import decode
from marsad.feeds import NotAFeed, discover_feed_links, parse_feed, sniff, within_window
from marsad.netguard import DEFAULT_LIMITS, BlockedAddress, GuardedTransport, check_url
from marsad.record import Article, Failure, FeedItem
from marsad.robots import DISALLOWED, RobotsPolicy, RobotsUnavailable
from marsad.settings import Settings
from marsad.sitemaps import parse_sitemap
from marsad.sources import Source
from marsad.state import StateStore
from marsad.warc import WarcWriter

HTML_TYPES = ("text/html", "application/xhtml+xml")
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
REDIRECT_STATUS = {301, 302, 303, 307, 308}  # not httpx's is_redirect: that includes 304
_INFLATE_STEP = 65_536
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
    """Politeness is per server name, whatever the port or scheme."""
    return (urlsplit(url).hostname or "").lower()


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


class _Inflater:
    """Content-Encoding decoder that never produces more than `limit` bytes.

    httpx inflates a whole network chunk at once (a 64 KiB gzip chunk can become
    64 MiB); here each call yields at most 64 KiB and the total is checked as it grows.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.encoding = encoding
        self.first = True
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}.get(
            encoding, zlib.MAX_WBITS
        )
        self.d = zlib.decompressobj(wbits) if encoding else None

    def feed(self, data: bytes) -> Iterable[bytes]:
        if self.d is None:
            yield data
            return
        if self.first and self.encoding == "deflate" and data:
            self.first = False
            if data[0] & 0x0F != 8:  # raw deflate without the zlib header, as IIS sends it
                self.d = zlib.decompressobj(-zlib.MAX_WBITS)
        buf = data
        while buf:
            try:
                out = self.d.decompress(buf, _INFLATE_STEP)
            except zlib.error as exc:
                raise FetchError(f"bad {self.encoding} data: {exc}") from None
            self.total += len(out)
            if self.total > self.limit:
                raise FetchError(
                    f"decompressed body over {self.limit} bytes ({self.encoding} bomb?)"
                )
            yield out
            buf = self.d.unconsumed_tail

    def finish(self) -> None:
        if self.d is not None and not self.d.eof:
            raise FetchError(f"truncated body: {self.encoding} stream ends early", transient=True)


def _encoding(headers: httpx.Headers) -> str:
    codings = [c.strip().lower() for c in headers.get("content-encoding", "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return ""
    if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(f"unsupported content-encoding {', '.join(codings)}")
    return codings[0]


async def read_limited(resp: httpx.Response, limit: int) -> bytes:
    """The decoded body, aborting past `limit` bytes (raw or decoded) or on truncation."""
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(f"body too large: {declared} bytes declared (limit {limit})")
    inflater = _Inflater(_encoding(resp.headers), limit)
    chunks: list[bytes] = []
    raw = 0
    try:
        async for chunk in resp.aiter_raw():
            raw += len(chunk)
            if raw > limit:
                raise FetchError(f"body too large: over {limit} bytes")
            chunks.extend(inflater.feed(chunk))
    except httpx.RemoteProtocolError:
        expected = f" of {declared}" if declared else ""
        raise FetchError(
            f"truncated body: {raw}{expected} bytes received", transient=True
        ) from None
    inflater.finish()
    return b"".join(chunks)


@dataclass(slots=True)
class _Hop:
    final_url: str
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes


class Session:
    """What one batch shares; use as `async with Session(...) as s: await s.get(url)`."""

    def __init__(
        self,
        settings: Settings,
        run_id: str = "",
        out: str | Path | None = None,
        label: str = "",
        *,
        client: httpx.AsyncClient | None = None,
        limiter: HostLimiter | None = None,
        obey_robots: bool = True,
    ) -> None:
        self.settings = settings
        self.run_id = run_id
        self.out = out
        self.label = label
        self.client = client  # given: one client for every host (the extract command)
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._ssl: ssl.SSLContext | None = None
        self.limiter = limiter or HostLimiter(settings)
        self.state: StateStore | None = None
        self.warc: WarcWriter | None = None
        self.robots: RobotsPolicy | None = None
        self.obey_robots = obey_robots

    async def __aenter__(self) -> Session:
        if self.out is not None:
            self.state = StateStore.for_output(self.out)
            if self.settings.archive_warc:
                self.warc = WarcWriter(self.out, self.run_id, self.label)
        if self.obey_robots:
            self.robots = RobotsPolicy(
                self._fetch_robots, self.settings.user_agent, self.settings.robots_ttl_s, self.state
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for client in self._clients.values():
            await client.aclose()
        if self.warc is not None:
            self.warc.close()
        if self.state is not None:
            self.state.close()

    def _client_for(self, host: str) -> httpx.AsyncClient:
        """A small connection pool per host: httpcore's pool scans every connection it
        holds on each request, so one pool for all hosts costs O(hosts) per request."""
        if self.client is not None:
            return self.client
        client = self._clients.get(host)
        if client is None:
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context(trust_env=False)
            n = self.settings.per_host_concurrency
            limits = httpx.Limits(max_connections=n + 1, max_keepalive_connections=n)
            client = self._clients[host] = make_client(self.settings, limits, self._ssl)
        return client

    async def _fetch_robots(self, url: str) -> tuple[int, bytes]:
        try:
            hop = await self._once(url, "", {}, check_robots=False)
        except FetchError as exc:
            if exc.transient or exc.reason.startswith("refused"):
                raise RobotsUnavailable(exc.reason) from None
            return 404, b""  # a robots.txt that cannot be parsed as one: no rules
        return hop.status, hop.body

    async def _once(
        self, url: str, source: str, extra: dict[str, str], check_robots: bool = True
    ) -> _Hop:
        """One attempt: follow redirects by hand, checking each hop, and read the body."""
        settings = self.settings
        seen = {url}
        current = url
        for _hop in range(settings.max_redirects + 1):
            try:
                await check_url(current, settings.allow_private_networks)
            except ValueError as exc:  # urlsplit: bad IPv6 literal, port out of range
                raise FetchError(f"invalid URL: {exc}") from None
            except (BlockedAddress, OSError) as exc:
                transient = isinstance(exc, OSError)
                raise FetchError(str(exc), transient=transient) from None
            crawl_delay = None
            if check_robots and self.robots is not None:
                refusal, crawl_delay = await self.robots.check(current)
                if refusal:
                    # an unreadable robots.txt is an outage: try again later
                    raise FetchError(refusal, transient=refusal != DISALLOWED)
            host = host_key(current)
            await self.limiter.acquire(host, crawl_delay)
            try:
                async with asyncio.timeout(settings.max_fetch_time_s):
                    client = self._client_for(host)
                    req = client.build_request("GET", current, headers=extra)
                    resp = await client.send(req, stream=True)
                    try:
                        if resp.status_code in REDIRECT_STATUS:
                            location = resp.headers.get("location")
                            if not location:
                                raise FetchError(f"HTTP {resp.status_code} without Location")
                            nxt = urljoin(current, location)
                            if nxt in seen:
                                raise FetchError(f"redirect loop at {nxt}")
                            seen.add(nxt)
                            current = nxt
                            extra = {}  # validators belong to the first URL only
                            continue
                        body = await read_limited(resp, settings.max_body_bytes)
                    finally:
                        await resp.aclose()
            except TimeoutError:
                raise FetchError(
                    f"timeout: no complete response within {settings.max_fetch_time_s:g} s",
                    transient=True,
                ) from None
            except httpx.TimeoutException:
                raise FetchError("timeout", transient=True) from None
            except BlockedAddress as exc:  # the connect-time re-check (DNS rebinding)
                raise FetchError(str(exc)) from None
            except httpx.InvalidURL as exc:
                raise FetchError(f"invalid URL: {exc}") from None
            except httpx.TransportError as exc:
                raise FetchError(
                    f"connection error: {type(exc).__name__}", transient=True
                ) from None
            finally:
                self.limiter.release(host)
            self._archive(url, current, resp, req, body, source)
            return _Hop(current, resp.status_code, resp.reason_phrase, resp.headers, body)
        raise FetchError(f"too many redirects (> {settings.max_redirects})")

    def _archive(
        self,
        url: str,
        final: str,
        resp: httpx.Response,
        req: httpx.Request,
        body: bytes,
        source: str,
    ) -> None:
        if self.warc is None:
            return
        self.warc.write(
            url=url,
            final_url=final,
            status=resp.status_code,
            reason=resp.reason_phrase,
            request_headers=dict(req.headers),
            headers=dict(resp.headers),
            body=body,
            fetched_at=now(),
            source=source,
        )

    def _validators(self, url: str) -> dict[str, str]:
        if self.state is None:
            return {}
        v = self.state.validators(url)
        if v is None or v.unreliable:
            return {}
        if v.not_modified_streak >= self.settings.conditional_verify_every:
            return {}  # now and then, fetch in full to catch validators that lie
        headers = {}
        if v.etag:
            headers["If-None-Match"] = v.etag
        if v.last_modified:
            headers["If-Modified-Since"] = v.last_modified
        return headers

    async def get(self, url: str, source: str = "", conditional: bool = False) -> Response:
        """GET with retries on transient errors (timeouts, 429, 5xx), honouring Retry-After.

        `conditional` sends the stored validators (feeds and sitemaps) and returns a
        304 Response when the server says nothing changed.
        """
        settings = self.settings
        extra = self._validators(url) if conditional else {}
        for attempt in range(1, settings.max_attempts + 1):
            try:
                hop = await self._once(url, source, extra)
                return self._judge(url, hop, attempt, bool(extra), conditional)
            except FetchError as exc:
                exc.attempts = attempt
                if not exc.transient or attempt == settings.max_attempts:
                    raise
                if exc.retry_after is not None and exc.retry_after > settings.backoff_max_s:
                    exc.reason += (
                        f" (Retry-After {exc.retry_after:g} s exceeds the"
                        f" {settings.backoff_max_s:g} s cap; left for a later run)"
                    )
                    raise
                await asyncio.sleep(backoff_delay(attempt, settings, exc.retry_after))
        raise AssertionError("unreachable: the loop returns or raises")

    def _judge(
        self, url: str, hop: _Hop, attempt: int, sent_validators: bool, conditional: bool
    ) -> Response:
        status = hop.status
        headers = dict(hop.headers)
        ctype = hop.headers.get("content-type", "")
        if status == 304:
            if not sent_validators:
                raise FetchError("HTTP 304 to an unconditional request")
            if self.state is not None:
                self.state.record_not_modified(url)
            return Response(url, hop.final_url, 304, ctype, b"", attempt, headers)
        if sniff(hop.body) is None:
            vendor = detect_challenge(hop.headers, hop.body)
            if vendor:
                raise FetchError(f"bot challenge page ({vendor}, HTTP {status})")
        if status in TRANSIENT_STATUS:
            retry_after = parse_retry_after(hop.headers.get("retry-after"))
            raise FetchError(f"HTTP {status}", transient=True, retry_after=retry_after)
        if status >= 400:
            raise FetchError(f"HTTP {status}")
        if conditional and self.state is not None and 200 <= status < 300:
            self.state.record_full(
                url, hop.headers.get("etag"), hop.headers.get("last-modified"), hop.body
            )
        return Response(url, hop.final_url, status, ctype, hop.body, attempt, headers)


async def fetch_url(
    client: httpx.AsyncClient, url: str, settings: Settings, limiter: HostLimiter
) -> Response:
    """One URL outside a batch (the `extract` command): SSRF guard and hardening, no robots."""
    async with Session(settings, client=client, limiter=limiter, obey_robots=False) as s:
        return await s.get(url)


# --- discovery ------------------------------------------------------------------------------


@dataclass
class Discovery:
    items: list[FeedItem] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    not_modified: list[tuple[str, str]] = field(default_factory=list)  # (source, url)


def _window(days: float | None) -> timedelta | None:
    return None if days is None else timedelta(days=days)


class _Discoverer:
    def __init__(self, session: Session, run_id: str, result: Discovery) -> None:
        self.s = session
        self.settings = session.settings
        self.run_id = run_id
        self.result = result
        self.started = now()
        self.sitemap_budget: dict[str, int] = {}  # sitemap fetches left per source

    def fail(self, url: str, src: Source, what: str, exc: FetchError | NotAFeed) -> None:
        reason = exc.reason if isinstance(exc, FetchError) else str(exc)
        attempts = exc.attempts if isinstance(exc, FetchError) else 1
        self.result.failures.append(
            Failure(url, src.name, "fetch", f"{what}: {reason}", attempts, self.run_id, now())
        )

    async def _get(self, url: str, src: Source, what: str) -> Response | None:
        try:
            resp = await self.s.get(url, src.name, conditional=what != "homepage")
        except FetchError as exc:
            self.fail(url, src, what, exc)
            return None
        except Exception as exc:  # a bug or a library surprise must not sink the run
            self.fail(url, src, what, FetchError(f"unexpected {type(exc).__name__}: {exc}"))
            return None
        if resp.not_modified:
            self.result.not_modified.append((src.name, url))
            return None
        return resp

    def keep(self, items: Iterable[FeedItem], window: timedelta | None) -> None:
        self.result.items.extend(
            i for i in items if within_window(i.feed_published_at, self.started, window)
        )

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
        except NotAFeed as exc:
            self.fail(url, src, "feed", exc)
            return
        except FetchError as exc:
            self.fail(url, src, "feed", exc)
            return
        self.keep(items, _window(self.settings.feed_window_days))

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
        self.keep(parsed.items[: self.settings.max_items_per_feed], window)
        if depth >= 2:  # an index of indexes of indexes is a loop or a trap
            return
        fresh = [u for u, when in parsed.children if within_window(when, self.started, window)]
        for child in fresh:
            await self.sitemap(src, child, depth + 1)

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
                )
            )
        await asyncio.gather(
            *(self.feed(src, f) for f in feeds), *(self.sitemap(src, m) for m in sitemaps)
        )


async def discover_all(
    sources: Sequence[Source], settings: Settings, run_id: str, out: str | Path | None = None
) -> Discovery:
    """Every source's feeds, sitemaps, homepage and listed URLs, plus the retry queue."""
    result = Discovery()
    async with Session(settings, run_id, out, "discover") as session:
        d = _Discoverer(session, run_id, result)
        jobs = []
        for src in sources:
            jobs += [d.feed(src, f) for f in src.feeds]
            jobs += [d.sitemap(src, m) for m in src.sitemaps]
            if src.homepage:
                jobs.append(d.homepage(src, src.homepage))
        await asyncio.gather(*jobs)
        for src in sources:
            result.items.extend(
                FeedItem(url=u, source=src.name, language_hint=src.language) for u in src.urls
            )
        if session.state is not None:
            names = {s.name for s in sources}
            listed = {i.url for i in result.items}
            result.items.extend(
                q.item
                for q in session.state.queued()
                if q.item.source in names and q.item.url not in listed
            )
    return result


async def discover(
    sources: Sequence[Source], settings: Settings, run_id: str, out: str | Path | None = None
) -> tuple[list[FeedItem], list[Failure]]:
    found = await discover_all(sources, settings, run_id, out)
    return found.items, found.failures


# --- articles -------------------------------------------------------------------------------


def _is_html(ctype: str, body: bytes) -> bool:
    mime = ctype.split(";")[0].strip().lower()
    if mime:
        return mime in HTML_TYPES
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


async def fetch_articles(
    items: Iterable[FeedItem],
    settings: Settings,
    run_id: str,
    out: str | Path | None = None,
    label: str = "",
) -> tuple[list[Article], list[Failure]]:
    """Fetch a batch of article URLs concurrently within the politeness limits.

    With `out`, transient failures join the retry queue (quarantined after
    `retry_max_runs` runs) and every response is archived to WARC.
    """
    articles: list[Article] = []
    failures: list[Failure] = []
    async with Session(settings, run_id, out, label) as session:
        state = session.state

        def failed(item: FeedItem, reason: str, attempts: int, transient: bool = False) -> None:
            if state is not None:
                if transient:
                    q = state.queue_retry(item, attempts, reason, settings.retry_max_runs)
                    attempts = q.attempts
                    reason += (
                        f"; quarantined after {q.runs} runs"
                        if q.quarantined
                        else f"; queued for the next run ({q.runs}/{settings.retry_max_runs})"
                    )
                else:
                    attempts += state.clear_retry(item.url)
            failures.append(
                Failure(item.url, item.source, "fetch", reason, attempts, run_id, now())
            )

        async def one(item: FeedItem) -> None:
            if state is not None and (q := state.quarantined(item.url)):
                failures.append(
                    Failure(
                        item.url,
                        item.source,
                        "fetch",
                        f"quarantined after {q.runs} runs: {q.last_error}",
                        q.attempts,
                        run_id,
                        now(),
                    )
                )
                return
            try:
                resp = await session.get(item.url, item.source)
            except FetchError as exc:
                failed(item, exc.reason, exc.attempts, exc.transient)
                return
            except Exception as exc:  # a bug or a library surprise must not sink the batch
                failed(item, f"unexpected {type(exc).__name__}: {exc}", 1)
                return
            if not _is_html(resp.content_type, resp.body):
                mime = resp.content_type.split(";")[0].strip() or "unknown type"
                failed(item, f"not HTML: {mime}", resp.attempts)
                return
            earlier = state.clear_retry(item.url) if state is not None else 0
            articles.append(
                Article(
                    url=item.url,
                    source=item.source,
                    fetched_at=now(),
                    html=decode(resp.body, resp.content_type),
                    final_url=resp.final_url,
                    feed=item,
                    attempts=resp.attempts + earlier,
                    run_id=run_id,
                )
            )

        await asyncio.gather(*(one(i) for i in items))
    return articles, failures


# --- Prefect wrappers: thin, one task run per batch -------------------------------------------

from prefect import task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.tasks import exponential_backoff  # noqa: E402

# Per-URL retries (with Retry-After) happen inside Session.get; these task-level retries
# re-run a batch only when the task itself crashed (e.g. the event loop died).
_RETRY = {
    "retries": 2,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
}


@task(name="discover", cache_policy=NO_CACHE, **_RETRY)
def discover_task(
    sources: Sequence[Source], settings: Settings, run_id: str, out: str | None = None
) -> Discovery:
    return asyncio.run(discover_all(sources, settings, run_id, out))


@task(name="fetch", cache_policy=NO_CACHE, **_RETRY)
def fetch_task(
    items: Sequence[FeedItem],
    settings: Settings,
    run_id: str,
    out: str | None = None,
    seq: int = 0,
) -> tuple[list[Article], list[Failure]]:
    return asyncio.run(fetch_articles(items, settings, run_id, out, f"{seq:05d}"))
