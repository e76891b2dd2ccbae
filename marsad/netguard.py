"""SSRF guard: decide from the *resolved* addresses whether a URL may be fetched.

Checked on every redirect hop. Link-local ranges (cloud metadata endpoints such
as 169.254.169.254) are refused even when private networks are allowed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(Exception):
    """The URL resolves to an address marsad must not contact."""


def classify(ip: IPAddress) -> str | None:
    """Why an address is refused ('link-local', 'private', ...) or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if (
        ip.is_private
        or ip.is_reserved
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    ):
        return "private"
    return None


ALWAYS_REFUSED = {"link-local", "multicast", "unspecified"}


def check_ip(ip: IPAddress, allow_private: bool) -> None:
    reason = classify(ip)
    if reason is None:
        return
    if reason in ALWAYS_REFUSED or not allow_private:
        raise BlockedAddress(f"refused {reason} address {ip}")


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
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


async def check_url(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedAddress(f"refused scheme {parts.scheme!r}")
    host = parts.hostname
    if not host:
        raise BlockedAddress("URL has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for ip in await resolve(host, port):
        check_ip(ip, allow_private)
