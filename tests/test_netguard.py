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
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("100.100.100.200", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("2002:7f00:1::", "6to4"),
        ("::a9fe:a9fe", "IPv4-compatible"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64: what the IPv4 inside is
        ("64:ff9b::808:808", None),
        ("2606:4700:4700::1111", None),
        ("fec0::1", "site-local"),
        ("4000::1", "reserved"),  # outside 2000::/3, whatever is_global says
    ],
)
def test_classify(addr: str, reason: str | None) -> None:
    assert classify(ipaddress.ip_address(addr)) == reason


# Issue 13, item 1: what the deny-list let through, and with which flag.
REFUSED_WITHOUT_FLAG = ["100.64.0.1", "100.100.100.200", "2002:7f00:1::"]
REFUSED_WITH_FLAG = ["64:ff9b::a9fe:a9fe", "::a9fe:a9fe", "fd00:ec2::254"]


@pytest.mark.parametrize("addr", REFUSED_WITHOUT_FLAG + REFUSED_WITH_FLAG)
def test_what_the_deny_list_missed_is_refused_without_the_flag(addr: str) -> None:
    with pytest.raises(BlockedAddress):
        check_ip(ipaddress.ip_address(addr), allow_private=False)


@pytest.mark.parametrize(
    ("addr", "reason"),
    [
        ("64:ff9b::a9fe:a9fe", "refused link-local address 64:ff9b::a9fe:a9fe (embeds 169.254"),
        ("::a9fe:a9fe", "refused link-local address ::a9fe:a9fe (embeds 169.254.169.254)"),
        ("fd00:ec2::254", "refused cloud metadata address fd00:ec2::254 (AWS IPv6)"),
        ("100.100.100.200", "refused cloud metadata address 100.100.100.200 (Alibaba Cloud)"),
        ("2002:7f00:1::", "refused 6to4 address 2002:7f00:1::"),  # 6to4 is not in the flag's set
        ("169.254.169.254", "refused link-local address 169.254.169.254 (cloud metadata"),
        ("fe80::a9fe:a9fe", "refused link-local address fe80::a9fe:a9fe"),
        ("224.0.0.1", "refused multicast"),
        ("ff02::1", "refused multicast"),
        ("255.255.255.255", "refused broadcast"),
        ("0.0.0.0", "refused unspecified"),
        ("::", "refused unspecified"),
        ("240.0.0.1", "refused reserved"),
        ("::ffff:169.254.169.254", "refused link-local"),
        ("64:ff9b::a00:1", "refused private"),  # RFC 6052: NAT64 never carries a private IPv4
    ],
)
def test_the_flag_never_opens_these(addr: str, reason: str) -> None:
    with pytest.raises(BlockedAddress) as err:
        check_ip(ipaddress.ip_address(addr), allow_private=True)
    assert str(err.value).startswith(reason)


@pytest.mark.parametrize(
    "addr", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "::1", "fd12::1"]
)
def test_the_flag_opens_exactly_loopback_rfc1918_shared_and_unique_local(addr: str) -> None:
    ip = ipaddress.ip_address(addr)
    with pytest.raises(BlockedAddress):
        check_ip(ip, allow_private=False)
    check_ip(ip, allow_private=True)


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


@pytest.mark.parametrize("answer", ["2002:7f00:1::", "64:ff9b::a9fe:a9fe", "fd00:ec2::254"])
def test_connect_time_check_uses_the_allow_list(answer: str) -> None:
    """A DNS answer in a range the old deny-list missed is refused at connect, flag or not."""
    from marsad.fetch.netguard import GuardedBackend

    backend = GuardedBackend(True, resolver=_fixed(answer))
    with pytest.raises(BlockedAddress, match="refused"):
        asyncio.run(backend.connect_tcp("rebind.invalid", 80))
