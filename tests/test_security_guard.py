"""The SSRF guard fuzzed: random addresses, every IPv6 form an IPv4 address hides in, odd URL
spellings. A refusal whenever `is_global` says no (the flag aside); an embedded IPv4 address
is never worth less than its IPv4 form."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from marsad.checkurl import check
from marsad.fetch.ippolicy import METADATA, PRIVATE_OK, category, embedded_ipv4, refusal

ANY_V4 = st.ip_addresses(v=4)
ANY_IP = st.ip_addresses()
FLAG = st.booleans()
INTERESTING_V4 = [
    "127.0.0.1",
    "10.0.0.1",
    "100.64.0.1",
    "100.100.100.200",
    "169.254.169.254",
    "0.0.0.0",
    "255.255.255.255",
    "224.0.0.1",
    "8.8.8.8",
]


def effective(ip: IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    """Where the packet goes: the IPv4 address of an IPv4-mapped or NAT64 address."""
    if isinstance(ip, IPv6Address) and (
        ip.ipv4_mapped is not None or ip in ipaddress.IPv6Network("64:ff9b::/96")
    ):
        return embedded_ipv4(ip)[0]
    return ip


# Every IPv6 form that carries an IPv4 address (Teredo's client is stored inverted).
FORMS = {
    "mapped": lambda n: (0xFFFF << 32) | n,
    "compatible": lambda n: n,
    "6to4": lambda n: (0x2002 << 112) | (n << 80) | 1,
    "nat64": lambda n: (0x64FF9B << 96) | n,
    "local-nat64": lambda n: (0x64FF9B0001 << 80) | ((n >> 16) << 64) | ((n & 0xFFFF) << 40),
    "teredo-client": lambda n: (0x20010000 << 96) | (0x4136E378 << 64) | (~n & 0xFFFFFFFF),
    "teredo-server": lambda n: (0x20010000 << 96) | (n << 64) | (~0x08080808 & 0xFFFFFFFF),
}


@settings(derandomize=True, database=None, max_examples=400, deadline=None)
@given(v4=ANY_V4, form=st.sampled_from(sorted(FORMS)), flag=FLAG)
@example(v4=IPv4Address("169.254.169.254"), form="nat64", flag=True)
@example(v4=IPv4Address("169.254.169.254"), form="compatible", flag=True)
@example(v4=IPv4Address("127.0.0.1"), form="6to4", flag=False)
@example(v4=IPv4Address("100.100.100.200"), form="mapped", flag=True)
def test_an_embedded_ipv4_is_never_judged_more_kindly(
    v4: IPv4Address, form: str, flag: bool
) -> None:
    wrapped = IPv6Address(FORMS[form](int(v4)))
    if form != "compatible" or int(v4) > 1:  # ::0 and ::1 are themselves, not 0.0.0.x
        assert v4 in embedded_ipv4(wrapped), (form, wrapped)
    if refusal(v4, flag) is not None:
        assert refusal(wrapped, flag) is not None, (form, wrapped)
    if form == "mapped":  # a dual-stack socket connects to the IPv4 address itself
        assert (refusal(wrapped, flag) is None) == (refusal(v4, flag) is None)
    if form == "nat64":  # RFC 6052: only global IPv4 behind the well-known prefix
        assert (refusal(wrapped, flag) is None) == (refusal(v4, False) is None)


@settings(derandomize=True, database=None, max_examples=1000, deadline=None)
@given(ip=ANY_IP, flag=FLAG)
def test_allowed_means_global_or_opened_by_the_flag(
    ip: IPv4Address | IPv6Address, flag: bool
) -> None:
    if refusal(ip, flag) is not None:
        return
    where = effective(ip)
    if flag:
        assert where.is_global or category(where) in PRIVATE_OK, ip
    else:
        assert where.is_global, ip
        if isinstance(ip, IPv6Address) and ip.ipv4_mapped is None:
            assert ip.is_global, ip


@settings(derandomize=True, database=None, max_examples=1000, deadline=None)
@given(ip=ANY_IP)
def test_never_opened_by_the_flag(ip: IPv4Address | IPv6Address) -> None:
    where = effective(ip)
    never = (
        where.is_link_local
        or where.is_multicast
        or where.is_unspecified
        or where in METADATA
        or ip in METADATA
        or (where.is_reserved and not where.is_loopback)  # 240/4, broadcast; ::/8 and others
        or (isinstance(where, IPv6Address) and where.is_site_local)
    )
    if never:
        assert refusal(ip, True) is not None, ip


@pytest.mark.parametrize("v4", INTERESTING_V4)
@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_of_the_usual_suspects(v4: str, form: str) -> None:
    addr = IPv4Address(v4)
    wrapped = IPv6Address(FORMS[form](int(addr)))
    for flag in (False, True):
        if refusal(addr, flag) is not None:
            assert refusal(wrapped, flag) is not None, (form, wrapped, flag)


async def _numeric(host: str, port: int) -> list[IPv4Address | IPv6Address]:
    """The system resolver restricted to numeric hosts: never a DNS query from a test."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    return [ipaddress.ip_address(str(i[4][0])) for i in infos]


SPELLINGS = {
    "dotted": lambda n: str(IPv4Address(n)),
    "decimal": str,
    "hex": hex,
    "octal": lambda n: "0" + format(n, "o"),
    "two-part": lambda n: f"{n >> 24}.{n & 0xFFFFFF}",
    "hex-dotted": lambda n: ".".join(hex(int(b)) for b in IPv4Address(n).packed),
}


@settings(derandomize=True, database=None, max_examples=300, deadline=None)
@given(v4=ANY_V4, spelling=st.sampled_from(sorted(SPELLINGS)), flag=FLAG)
@example(v4=IPv4Address("127.0.0.1"), spelling="decimal", flag=False)
@example(v4=IPv4Address("169.254.169.254"), spelling="octal", flag=True)
def test_odd_spellings_of_an_ipv4_url_are_judged_as_the_address(
    v4: IPv4Address, spelling: str, flag: bool
) -> None:
    url = f"http://{SPELLINGS[spelling](int(v4))}/"
    result = asyncio.run(check(url, flag, resolver=_numeric))
    if refusal(v4, flag) is not None:
        assert result.refused is not None, result.report()
    elif result.refused is not None:  # httpx, which connects, refuses some spellings outright
        assert result.refused.startswith("invalid URL"), result.report()
