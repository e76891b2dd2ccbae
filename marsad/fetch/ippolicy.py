"""Which addresses marsad may connect to: an allow-list of global unicast addresses.

A deny-list misses whatever it does not name (shared address space, 6to4 wrapping
127.0.0.1, NAT64 wrapping 169.254.169.254, a metadata endpoint in fc00::/7), so an address
passes only when it is global unicast: by Python's `is_global`, by the IANA special-purpose
registries below (Python's table differs between versions; this one does not) and, for IPv6,
inside 2000::/3. An IPv4 address embedded in an IPv6 one (mapped, compatible, 6to4, NAT64,
Teredo) is judged too, as the packet may end up there. `--allow-private-networks` adds
exactly loopback, RFC 1918, shared address space and unique-local; never link-local,
metadata endpoints, multicast, broadcast, unspecified or reserved addresses.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address

# Cloud metadata and credential endpoints: refused even with --allow-private-networks.
METADATA: dict[IPAddress, str] = {
    ipaddress.ip_address(a): who
    for a, who in (
        ("169.254.169.254", "AWS, GCP, Azure, OpenStack and others"),
        ("169.254.170.2", "AWS ECS task credentials"),
        ("169.254.170.23", "AWS EKS Pod Identity"),
        ("169.254.0.23", "Tencent Cloud"),
        ("169.254.42.42", "Scaleway"),
        ("100.100.100.200", "Alibaba Cloud"),
        ("192.0.0.192", "Oracle Cloud"),
        ("168.63.129.16", "Azure WireServer"),
        ("fd00:ec2::254", "AWS IPv6"),
        ("fd00:ec2::23", "AWS EKS Pod Identity IPv6"),
        ("fd20:ce::254", "GCP IPv6"),
        ("fd00:42::42", "Scaleway IPv6"),
        ("fe80::a9fe:a9fe", "OpenStack IPv6"),
    )
}

# IANA special-purpose ranges, first match names the reason (specific before general).
_V4: list[tuple[IPv4Network, str]] = [
    (IPv4Network(n), why)
    for n, why in (
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "'this network'"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
]
_V6: list[tuple[IPv6Network, str]] = [
    (IPv6Network(n), why)
    for n, why in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("::/96", "IPv4-compatible"),
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "IETF protocol assignment"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "SRv6 segment identifier"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
]
GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")
NAT64 = IPv6Network("64:ff9b::/96")
LOCAL_NAT64 = IPv6Network("64:ff9b:1::/48")
COMPATIBLE = IPv6Network("::/96")

# What --allow-private-networks opens: loopback, RFC 1918, 100.64.0.0/10, fc00::/7.
PRIVATE_OK = frozenset({"loopback", "private", "shared (carrier-grade NAT)", "unique-local"})


def category(ip: IPAddress) -> str | None:
    """What keeps `ip` itself from being global unicast, or None when it is global unicast.

    Embedded IPv4 addresses are not looked at here (see `refusal`).
    """
    ip = _unscoped(ip)
    if ip in METADATA:
        return "link-local" if ip.is_link_local else "cloud metadata"
    table: list[tuple[IPv4Network, str]] | list[tuple[IPv6Network, str]] = (
        _V4 if isinstance(ip, IPv4Address) else _V6
    )
    for net, why in table:
        if ip in net:
            return why
    if isinstance(ip, IPv6Address) and ip not in GLOBAL_UNICAST_V6:
        return "reserved"
    if not ip.is_global or ip.is_multicast:  # Python's own table, as a second opinion
        return "non-global"
    return None


def embedded_ipv4(ip: IPv6Address) -> list[IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, compatible, NAT64 (RFC 6052 /96
    and the /48 local-use prefix), 6to4, Teredo (server and client)."""
    ip = IPv6Address(int(ip))  # without a zone
    n = int(ip)
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in NAT64 or (ip in COMPATIBLE and n > 1):
        return [IPv4Address(n & 0xFFFFFFFF)]
    if ip in LOCAL_NAT64:  # RFC 6052 /48: bits 48-63, then 72-87 after the zero u octet
        b = ip.packed
        return [IPv4Address(b[6:8] + b[9:11])]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    return []


def refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why marsad must not connect to `ip` ('refused <what> address <ip> ...'), None if it may."""
    ip = _unscoped(ip)
    if isinstance(ip, IPv6Address) and (ip.ipv4_mapped is not None or ip in NAT64):
        # The packet goes to the IPv4 address (a dual-stack socket, a NAT64 gateway): judge
        # that. RFC 6052 forbids the well-known NAT64 prefix for non-global IPv4 addresses.
        inner = embedded_ipv4(ip)[0]
        if refusal(inner, allow_private and ip.ipv4_mapped is not None) is None:
            return None
        return (
            f"refused {category(inner) or 'non-global'} address {ip} (embeds {inner}){_hint(inner)}"
        )
    own = category(ip)
    if isinstance(ip, IPv6Address):
        for inner in embedded_ipv4(ip):
            why = category(inner)
            if why is not None and not (allow_private and why in PRIVATE_OK):
                return f"refused {why} address {ip} (embeds {inner}){_hint(inner)}"
    if own is None or (allow_private and own in PRIVATE_OK):
        return None
    return f"refused {own} address {ip}{_hint(ip)}"


def opened_by_flag(ip: IPAddress) -> bool:
    """True when only --allow-private-networks stands between `ip` and a fetch."""
    return refusal(ip, False) is not None and refusal(ip, True) is None


def _hint(ip: IPAddress) -> str:
    who = METADATA.get(ip)
    if who is None:
        return ""
    return f" ({who})" if category(ip) == "cloud metadata" else f" (cloud metadata: {who})"


def _unscoped(ip: IPAddress) -> IPAddress:
    """`fe80::1%eth0` judged as `fe80::1`: the zone does not change what the address is."""
    if isinstance(ip, IPv6Address) and ip.scope_id:
        return IPv6Address(int(ip))
    return ip
