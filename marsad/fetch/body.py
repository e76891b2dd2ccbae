"""Reading a response body within a byte budget, inflating gzip/deflate by bounded steps."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx

from marsad.fetch.http import FetchError

_INFLATE_STEP = 65_536


class Inflater:
    """Content-Encoding decoder that never produces more than `limit` bytes.

    httpx inflates a whole network chunk at once (a 64 KiB gzip chunk can become
    64 MiB); here each call yields at most 64 KiB and the total is checked as it grows.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.encoding = encoding
        self.first = True
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}.get(
            encoding, zlib.MAX_WBITS
        )
        self.d = zlib.decompressobj(wbits) if encoding else None

    def feed(self, data: bytes) -> Iterable[bytes]:
        if self.d is None:
            yield data
            return
        if self.first and self.encoding == "deflate" and data:
            self.first = False
            if data[0] & 0x0F != 8:  # raw deflate without the zlib header, as IIS sends it
                self.d = zlib.decompressobj(-zlib.MAX_WBITS)
        buf = data
        while buf:
            try:
                out = self.d.decompress(buf, _INFLATE_STEP)
            except zlib.error as exc:
                raise FetchError(f"bad {self.encoding} data: {exc}") from None
            self.total += len(out)
            if self.total > self.limit:
                raise FetchError(
                    f"decompressed body over {self.limit} bytes ({self.encoding} bomb?)"
                )
            yield out
            buf = self.d.unconsumed_tail

    def finish(self) -> None:
        if self.d is not None and not self.d.eof:
            raise FetchError(f"truncated body: {self.encoding} stream ends early", transient=True)


def content_encoding(headers: httpx.Headers) -> str:
    codings = [c.strip().lower() for c in headers.get("content-encoding", "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return ""
    if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(f"unsupported content-encoding {', '.join(codings)}")
    return str(codings[0])


_PREFIX: ContextVar[int | None] = ContextVar("marsad_body_prefix", default=None)


@contextmanager
def prefix_only(size: int) -> Iterator[None]:
    """Within this block, `read_limited` keeps the first `size` decoded bytes of a longer body
    instead of failing: robots.txt, whose first 500 KiB must be parsed (RFC 9309 2.5), is
    read by the same fetch path as any page (the session's `_once`)."""
    token = _PREFIX.set(size)
    try:
        yield
    finally:
        _PREFIX.reset(token)


async def read_limited(resp: httpx.Response, limit: int, prefix: int | None = None) -> bytes:
    """The decoded body, aborting past `limit` bytes (raw or decoded) or on truncation.

    With `prefix` (or inside `prefix_only`): the first `prefix` decoded bytes, the rest
    unread, never an error for size; at most `limit` raw bytes are read for them.
    """
    prefix = _PREFIX.get() if prefix is None else prefix
    if prefix is not None:
        return await _read_prefix(resp, limit, prefix)
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchError(f"body too large: {declared} bytes declared (limit {limit})")
    inflater = Inflater(content_encoding(resp.headers), limit)
    chunks: list[bytes] = []
    raw = 0
    try:
        async for chunk in resp.aiter_raw():
            raw += len(chunk)
            if raw > limit:
                raise FetchError(f"body too large: over {limit} bytes")
            chunks.extend(inflater.feed(chunk))
    except httpx.RemoteProtocolError:
        expected = f" of {declared}" if declared else ""
        raise FetchError(
            f"truncated body: {raw}{expected} bytes received", transient=True
        ) from None
    inflater.finish()
    return b"".join(chunks)


async def _read_prefix(resp: httpx.Response, limit: int, prefix: int) -> bytes:
    """A body that cannot be decoded (bad gzip, an encoding we do not read) is a transient
    error here: for robots.txt that is "unreachable" (disallow all, RFC 9309 2.3.1.4), where a
    permanent one would read as "no robots.txt" and allow everything."""
    try:
        return await _prefix(resp, limit, prefix)
    except FetchError as exc:
        exc.transient = True
        raise


async def _prefix(resp: httpx.Response, limit: int, prefix: int) -> bytes:
    inflater = Inflater(content_encoding(resp.headers), prefix + _INFLATE_STEP)
    chunks: list[bytes] = []
    raw = got = 0
    try:
        async for chunk in resp.aiter_raw():
            raw += len(chunk)
            for piece in inflater.feed(chunk):
                chunks.append(piece)
                got += len(piece)
                if got >= prefix:
                    return b"".join(chunks)[:prefix]
            if raw >= limit:  # compressed padding that inflates to nothing: stop anyway
                return b"".join(chunks)
    except httpx.RemoteProtocolError:
        raise FetchError(f"truncated body: {raw} bytes received", transient=True) from None
    inflater.finish()
    return b"".join(chunks)
