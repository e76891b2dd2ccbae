from __future__ import annotations

import asyncio
import ipaddress

import pytest

from marsad.netguard import BlockedAddress, check_ip, check_url, classify


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
