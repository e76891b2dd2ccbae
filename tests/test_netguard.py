from __future__ import annotations

import asyncio
import ipaddress

import pytest

from marsad.fetch.netguard import BlockedAddress, check_ip, check_url, classify


@pytest.mark.parametrize(
    ("addr", "reason"),
    [
        ("8.8.8.8", None),
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
    ],
)
def test_classify(addr: str, reason: str | None) -> None:
    assert classify(ipaddress.ip_address(addr)) == reason


def test_private_allowed_only_with_the_flag() -> None:
    ip = ipaddress.ip_address("127.0.0.1")
    with pytest.raises(BlockedAddress):
        check_ip(ip, allow_private=False)
    check_ip(ip, allow_private=True)


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/"])
def test_link_local_refused_even_when_private_allowed(url: str) -> None:
    with pytest.raises(BlockedAddress, match="link-local"):
        asyncio.run(check_url(url, allow_private=True))


def test_hostname_is_resolved_before_the_check() -> None:
    with pytest.raises(BlockedAddress, match="loopback"):
        asyncio.run(check_url("http://localhost:9/", allow_private=False))


def test_non_http_scheme_refused() -> None:
    with pytest.raises(BlockedAddress, match="scheme"):
        asyncio.run(check_url("file:///etc/passwd", allow_private=True))


def _fixed(*addrs: str):  # a resolver that answers what a rebinding DNS server would
    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address(a) for a in addrs]

    return resolve


def test_connect_goes_to_the_checked_address(demo_site: str) -> None:
    """A name the system cannot resolve still connects: the socket uses the guard's answer."""
    import httpx

    from marsad.fetch.netguard import GuardedTransport

    port = demo_site.rsplit(":", 1)[1]

    async def get() -> int:
        transport = GuardedTransport(True, resolver=_fixed("127.0.0.1"))
        async with httpx.AsyncClient(transport=transport) as client:
            resp = await client.get(f"http://rebind.invalid:{port}/index.html")
            return resp.status_code

    assert asyncio.run(get()) == 200


def test_a_rebinding_answer_at_connect_time_is_refused() -> None:
    """check_url saw a public address; the connect-time lookup says link-local: refused."""
    import httpx

    from marsad.fetch.netguard import GuardedTransport

    async def get() -> None:
        transport = GuardedTransport(True, resolver=_fixed("169.254.169.254"))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("http://rebind.invalid/latest/meta-data/")

    with pytest.raises(BlockedAddress, match="link-local"):
        asyncio.run(get())


def test_any_blocked_answer_refuses_the_whole_name() -> None:
    from marsad.fetch.netguard import GuardedBackend

    backend = GuardedBackend(False, resolver=_fixed("93.184.216.34", "10.0.0.1"))
    with pytest.raises(BlockedAddress, match="private"):
        asyncio.run(backend.connect_tcp("mixed.invalid", 80))
