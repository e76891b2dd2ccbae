"""`marsad check-url`: would marsad fetch this URL, and if not, why.

The same judgement the fetch path makes before each hop and at connect time (scheme, host,
port, every resolved address against `marsad.fetch.ippolicy`), without connecting: an
operator reads a failure row's reason here, and tests pin the guard through the CLI. A
literal IP needs no DNS; a name is resolved and each of its addresses is shown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from marsad.fetch.ippolicy import IPAddress, opened_by_flag, refusal
from marsad.fetch.netguard import BlockedAddress, Resolver, resolve, target


@dataclass(slots=True)
class UrlCheck:
    url: str
    refused: str | None = None  # the reason, without the leading 'refused '
    lines: list[str] = field(default_factory=list)  # host, addresses and their verdicts

    def report(self) -> str:
        last = f"refused: {self.refused}" if self.refused else f"allowed: {self.url}"
        return "\n".join([f"url: {self.url}", *self.lines, last])


async def check(url: str, allow_private: bool, resolver: Resolver = resolve) -> UrlCheck:
    """What marsad would decide for `url`, in the fetch path's order: the URL as urlsplit
    reads it (the check before a hop), then the host httpx would connect to (the check at
    connect time). Redirect targets are judged at their own hop."""
    result = UrlCheck(url)
    try:
        host, port = target(url)
    except BlockedAddress as exc:
        result.refused = _bare(str(exc))
        return result
    except ValueError as exc:
        result.refused = f"invalid URL: {exc}"
        return result
    await _judge_host(result, host, port, allow_private, resolver)
    try:
        connect_host = httpx.URL(url).host.lower()
    except httpx.InvalidURL as exc:
        result.refused = result.refused or f"invalid URL: {exc}"
        return result
    if connect_host != host:
        await _judge_host(result, connect_host, port, allow_private, resolver)
    return result


async def _judge_host(
    result: UrlCheck, name: str, port: int, allow_private: bool, resolver: Resolver
) -> None:
    result.lines.append(f"host: {name}, port {port}")
    try:
        ips = list(dict.fromkeys(await resolver(name, port)))
    except OSError as exc:
        result.refused = result.refused or str(exc)
        return
    if not ips:
        result.refused = result.refused or f"no address for {name}"
    for ip in ips:
        why = refusal(ip, allow_private)
        result.lines.append(f"  {ip}: {_verdict(ip, why)}")
        if why is not None and result.refused is None:
            named = "" if name == str(ip) else f" ({name})"
            result.refused = _bare(why) + named + _flag_hint(ip)


def _verdict(ip: IPAddress, why: str | None) -> str:
    return "allowed" if why is None else f"refused: {_bare(why)}{_flag_hint(ip)}"


def _flag_hint(ip: IPAddress) -> str:
    return "; --allow-private-networks allows it" if opened_by_flag(ip) else ""


def _bare(reason: str) -> str:
    return reason.removeprefix("refused ")


def main(url: str, allow_private: bool) -> int:
    """Print the verdict; exit 0 when marsad would fetch `url`, 1 when it would not."""
    result = asyncio.run(check(url, allow_private))
    print(result.report())
    return 1 if result.refused else 0
