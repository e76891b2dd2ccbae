"""What one batch shares: per-host clients, the limiter, robots.txt, the state store, WARC.

`Session.get` follows redirects by hand so that every hop passes the SSRF guard and
robots.txt, retries transient errors with backoff, and sends stored validators for feeds.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urljoin

import httpx

from marsad.fetch.body import read_limited
from marsad.fetch.challenge import detect_challenge
from marsad.fetch.feeds import sniff
from marsad.fetch.http import (
    REDIRECT_STATUS,
    TRANSIENT_STATUS,
    FetchError,
    HostLimiter,
    Response,
    backoff_delay,
    host_key,
    make_client,
    now,
    parse_retry_after,
)
from marsad.fetch.netguard import BlockedAddress, check_url
from marsad.fetch.robots import DISALLOWED, RobotsPolicy, RobotsUnavailable
from marsad.settings import Settings
from marsad.state import StateStore
from marsad.warc import WarcWriter


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
        304 Response when the server says nothing changed; the caller saves a 200's
        validators (`StateStore.record_discovery`).
        """
        settings = self.settings
        extra = self._validators(url) if conditional else {}
        for attempt in range(1, settings.max_attempts + 1):
            try:
                hop = await self._once(url, source, extra)
                return self._judge(url, hop, attempt, bool(extra))
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

    def _judge(self, url: str, hop: _Hop, attempt: int, sent_validators: bool) -> Response:
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
        # a 200's validators are saved by discovery, with the URLs the body lists (one
        # transaction): saved here, a crash before those URLs are pending would lose them
        return Response(url, hop.final_url, status, ctype, hop.body, attempt, headers)


async def fetch_url(
    client: httpx.AsyncClient, url: str, settings: Settings, limiter: HostLimiter
) -> Response:
    """One URL outside a batch (the `extract` command): SSRF guard and hardening, no robots."""
    async with Session(settings, client=client, limiter=limiter, obey_robots=False) as s:
        return await s.get(url)
