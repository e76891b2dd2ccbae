"""robots.txt as an attacker serves it: too big, compressed, cut off, failing. RFC 9309:
parse the first 500 KiB; a 5xx or an unreachable robots.txt disallows everything."""

from __future__ import annotations

import asyncio
import gzip
import sys
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.fetch.articles import fetch_articles
from marsad.fetch.body import read_limited
from marsad.fetch.robots import MAX_ROBOTS_BYTES, _Rules, robots_prefix
from marsad.record import FeedItem
from marsad.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from faultcore import FaultState, serve_hosts
from faultroutes import FaultHandler

FAST = Settings(
    allow_private_networks=True,
    per_host_delay_s=0.0,
    backoff_base_s=0.01,
    backoff_max_s=0.05,
    max_attempts=2,
    timeout_s=2.0,
    max_fetch_time_s=10.0,
    max_body_bytes=10_000_000,  # the default: the 11 MB robots.txt is over it
)
DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
PAD_LINE = "# " + "x" * 78 + "\n"


def padded(head: str, size: int, tail: str = "") -> bytes:
    body = head + PAD_LINE * (size // len(PAD_LINE) + 1) + tail
    return body.encode()


class RobotsHandler(FaultHandler):
    """/robots.txt as the test class says: `robots_body`, sent as `robots_mode`."""

    robots_body = b""
    robots_mode = "plain"

    def robots(self, path: str, count: int) -> None:
        body, mode = self.robots_body, self.robots_mode
        if mode == "hangup":  # the connection closes with no response at all
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if mode.startswith("status-"):
            self.send(int(mode.split("-")[1]), "go away", "text/plain")
            return
        if mode == "gzip":
            self.send(200, gzip.compress(body, 1), "text/plain", {"Content-Encoding": "gzip"})
            return
        if mode in ("br", "bad-gzip"):  # bytes marsad cannot decode
            coding = "br" if mode == "br" else "gzip"
            self.send(200, b"\x1f\x8b not gzip at all", "text/plain", {"Content-Encoding": coding})
            return
        if mode == "chunked":  # no Content-Length: the size shows only as it streams
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self._done()
            self.end_headers()
            for i in range(0, len(body), 65536):
                piece = body[i : i + 65536]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send(200, body, "text/plain")


@contextmanager
def robots_server(body: bytes, mode: str = "plain") -> Iterator[tuple[str, FaultState]]:
    handler = type("Robots", (RobotsHandler,), {"robots_body": body, "robots_mode": mode})
    with serve_hosts(handler) as (bases, state):
        yield bases["127.0.0.1"], state


def fetch(base: str, paths: list[str], out: Path | None = None) -> tuple[set[str], dict[str, str]]:
    items = [FeedItem(base + p, "robots") for p in paths]
    arts, fails = asyncio.run(fetch_articles(items, FAST, "run-1", out))
    return {a.url[len(base) :] for a in arts}, {f.url[len(base) :]: f.error for f in fails}


@pytest.mark.parametrize(
    ("size", "mode"),
    [(11_000_000, "plain"), (11_000_000, "chunked"), (50_000_000, "gzip")],
    ids=["11MB-content-length", "11MB-chunked", "50MB-gzip"],
)
def test_a_robots_txt_over_the_body_limit_is_obeyed(size: int, mode: str) -> None:
    """Issue 13: these were read as 'no robots.txt' and every article was fetched."""
    with robots_server(padded(DISALLOW_ALL, size), mode) as (base, state):
        arts, fails = fetch(base, ["/article/1.html", "/article/2.html"])
    assert arts == set()
    assert fails == {p: "disallowed by robots.txt" for p in ("/article/1.html", "/article/2.html")}
    assert state.hits(r"^/article/") == []  # never requested


def test_rules_in_the_first_500_kib_apply_and_later_ones_do_not() -> None:
    late = "User-agent: *\nDisallow: /article/\n"  # past 500 KiB: ignored, as Google does
    body = padded("User-agent: *\nDisallow: /private/\n", 600_000, late)
    with robots_server(body, "chunked") as (base, _state):
        arts, fails = fetch(base, ["/article/1.html", "/private/1.html"])
    assert arts == {"/article/1.html"}
    assert fails == {"/private/1.html": "disallowed by robots.txt"}


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("status-500", "robots.txt unavailable (HTTP 500)"),
        ("status-503", "robots.txt unavailable (HTTP 503)"),
        ("status-429", "robots.txt unavailable (HTTP 429)"),
        ("hangup", "robots.txt unreachable: connection error"),
        ("br", "robots.txt unreachable: unsupported content-encoding br"),
        ("bad-gzip", "robots.txt unreachable: bad gzip data"),
    ],
)
def test_an_unreadable_robots_txt_disallows_all_for_now(
    mode: str, reason: str, tmp_path: Path
) -> None:
    """RFC 9309 2.3.1.4: unreachable means complete disallow; a later run tries again."""
    with robots_server(b"", mode) as (base, state):
        arts, fails = fetch(base, ["/article/1.html"], tmp_path)
    assert arts == set()
    assert fails["/article/1.html"].startswith(reason), fails
    assert "queued for the next run" in fails["/article/1.html"]  # transient: retried later
    assert state.hits(r"^/article/") == []


def test_a_404_robots_txt_still_means_no_rules() -> None:
    with robots_server(b"", "status-404") as (base, _state):
        arts, _fails = fetch(base, ["/article/1.html"])
    assert arts == {"/article/1.html"}


# --- the reader itself, fuzzed -------------------------------------------------------------


@settings(derandomize=True, database=None, max_examples=200, deadline=None)
@given(body=st.binary(max_size=4000), extra=st.integers(0, 3000))
def test_robots_prefix_keeps_whole_lines_within_the_limit(body: bytes, extra: int) -> None:
    big = body + b"a" * (MAX_ROBOTS_BYTES - len(body) + extra)
    for raw in (body, big):
        kept = robots_prefix(raw)
        assert raw.startswith(kept) and len(kept) <= MAX_ROBOTS_BYTES
        if len(raw) <= MAX_ROBOTS_BYTES:
            assert kept == raw
        else:
            assert kept == b"" or kept[-1:] in (b"\n", b"\r")
        _Rules(200, raw)  # never raises, whatever the bytes


@settings(derandomize=True, database=None, max_examples=100, deadline=None)
@given(
    rules=st.lists(st.sampled_from(["/", "/a", "/private/", "/*.html"]), min_size=1, max_size=5),
    pad=st.integers(MAX_ROBOTS_BYTES - 2000, MAX_ROBOTS_BYTES + 200_000),
)
def test_a_disallow_at_the_top_survives_any_padding(rules: list[str], pad: int) -> None:
    head = "User-agent: *\n" + "".join(f"Disallow: {r}\n" for r in rules)
    parser = _Rules(200, padded(head, pad)).parser
    assert parser is not None
    for rule in rules:
        if "*" not in rule:
            assert not parser.can_fetch(f"http://x{rule}x", "marsad")


class Chunks(httpx.AsyncByteStream):
    """A response body arriving in 16 KiB network chunks."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self.data), 16384):
            yield self.data[i : i + 16384]


def _response(body: bytes, encoding: str) -> httpx.Response:
    if encoding == "gzip":
        body = gzip.compress(body)
    elif encoding == "deflate":
        body = zlib.compress(body)
    headers = {"Content-Encoding": encoding} if encoding else {}
    return httpx.Response(200, headers=headers, stream=Chunks(body))


@settings(derandomize=True, database=None, max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=300_000),
    encoding=st.sampled_from(["", "gzip", "deflate"]),
    prefix=st.integers(1, 200_000),
)
def test_a_prefix_read_is_the_decoded_body_cut_there(
    body: bytes, encoding: str, prefix: int
) -> None:
    got = asyncio.run(read_limited(_response(body, encoding), 10_000_000, prefix=prefix))
    assert got == body[:prefix]


def test_a_prefix_read_of_a_gzip_bomb_stops_early() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    zeros = b"\0" * 1_000_000
    bomb = b"".join(packer.compress(zeros) for _ in range(200)) + packer.flush()  # 200 MB in
    resp = httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=Chunks(bomb))
    got = asyncio.run(read_limited(resp, 10_000_000, prefix=MAX_ROBOTS_BYTES + 1))
    assert len(got) == MAX_ROBOTS_BYTES + 1
