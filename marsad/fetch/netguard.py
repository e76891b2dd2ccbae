"""SSRF guard: decide from the *resolved* addresses whether a URL may be fetched.

Checked before every redirect hop and again at connect time, on the address the socket
then uses. Which addresses pass is `marsad.fetch.ippolicy` (an allow-list of global unicast
addresses; cloud metadata endpoints never, whatever `--allow-private-networks` says).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from marsad.fetch.ippolicy import NAT64, IPAddress, category, embedded_ipv4, refusal

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


class BlockedAddress(Exception):
    """The URL resolves to an address marsad must not contact."""


def classify(ip: IPAddress) -> str | None:
    """What keeps `ip` from being global unicast ('link-local', 'private', ...), or None;
    an IPv4-mapped or NAT64 address is what its IPv4 address is."""
    if isinstance(ip, ipaddress.IPv6Address) and (ip.ipv4_mapped is not None or ip in NAT64):
        return category(embedded_ipv4(ip)[0])
    return category(ip)


def check_ip(ip: IPAddress, allow_private: bool) -> None:
    why = refusal(ip, allow_private)
    if why is not None:
        raise BlockedAddress(why)


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"DNS lookup failed for {host}: {exc.strerror}") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def target(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; BlockedAddress for another scheme or no host,
    ValueError for a port out of range or a bad IPv6 literal."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedAddress(f"refused scheme {parts.scheme!r}")
    host = parts.hostname
    if not host:
        raise BlockedAddress("URL has no host")
    return host, parts.port or (443 if parts.scheme == "https" else 80)


async def check_url(url: str, allow_private: bool, resolver: Resolver = resolve) -> None:
    """Early, readable refusal before a hop; `GuardedBackend` re-checks at connect time."""
    host, port = target(url)
    for ip in await resolver(host, port):
        check_ip(ip, allow_private)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and then connects to the *checked* IP address.

    Checking a hostname and letting the HTTP library resolve it again leaves a
    DNS-rebinding window (the second answer may be 169.254.169.254). Here the
    address that passed the check is the one the socket connects to; TLS still
    uses the hostname for SNI and certificate checks, because httpcore passes it
    to `start_tls` separately.
    """

    def __init__(self, allow_private: bool, resolver: Resolver = resolve) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        ips = await self.resolver(host, port)
        if not ips:
            raise BlockedAddress(f"no address for {host}")
        for ip in ips:
            check_ip(ip, self.allow_private)
        last: Exception | None = None
        for ip in ips:
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are refused")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=40)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every socket goes through the guard."""

    def __init__(
        self,
        allow_private: bool,
        limits: httpx.Limits = DEFAULT_LIMITS,
        resolver: Resolver = resolve,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_private, resolver),
        )
