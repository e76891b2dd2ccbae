"""Reading WARC files for `marsad ingest`: where they are, and their records one at a time.

A WARC argument is a local path, a glob, or a URI. Local paths and fsspec protocols
(file://, s3://, gs://, ... with their fsspec packages) go through fsspec, whose file
objects seek; http(s) is streamed with httpx and a Range request, because fsspec's
HTTPFileSystem needs aiohttp, which marsad does not install. A file is read from a record
offset on, so a resumed ingest starts where the last committed chunk ended, and no file is
ever held whole in memory.
"""

from __future__ import annotations

import glob
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import fsspec
import httpx
from warcio.archiveiterator import ArchiveIterator

HTTP_CHUNK = 1 << 16
_MAGIC = ("*", "?", "[")


class IngestInputError(ValueError):
    """A WARC argument that names nothing; the message is meant for the operator."""


def _is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def expand(targets: list[str]) -> list[str]:
    """Every WARC file the arguments name, in order, each once; a glob that matches nothing
    (or a missing local file) is an error, so a typo does not ingest nothing quietly."""
    found: list[str] = []
    for target in targets:
        if _is_http(target):
            matches = [target]
        elif "://" in target:
            fs, path = fsspec.core.url_to_fs(target)
            paths = fs.glob(path) if any(m in path for m in _MAGIC) else [path]
            proto = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
            matches = [p if "://" in p else f"{proto}://{p}" for p in sorted(paths)]
        elif any(m in target for m in _MAGIC):
            matches = [str(Path(p).resolve()) for p in sorted(glob.glob(target))]
        else:
            if not Path(target).is_file():
                raise IngestInputError(f"{target}: no such WARC file")
            matches = [str(Path(target).resolve())]
        if not matches:
            raise IngestInputError(f"{target}: matches no WARC file")
        found += [m for m in matches if m not in found]
    return found


class HttpStream(io.RawIOBase):
    """An httpx response body as a read-only stream whose `tell` is the file's offset."""

    def __init__(self, chunks: Iterator[bytes], start: int) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._buf:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buf = chunk
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos


@contextmanager
def open_at(uri: str, offset: int = 0) -> Iterator[IO[bytes]]:
    """The file's bytes from `offset` on, streamed."""
    if _is_http(uri):
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with (
            httpx.Client(timeout=60, follow_redirects=True) as client,
            client.stream("GET", uri, headers=headers) as resp,
        ):
            resp.raise_for_status()
            if offset and resp.status_code != 206:
                raise OSError(f"{uri}: the server ignored the Range request (HTTP 200)")
            raw = HttpStream(resp.iter_bytes(HTTP_CHUNK), offset)
            yield io.BufferedReader(raw, HTTP_CHUNK)
        return
    with fsspec.open(uri, "rb") as fh:
        if offset:
            fh.seek(offset)
        yield fh


@dataclass(slots=True)
class WarcRecord:
    """One record as ingest sees it: enough to select it and make it an article."""

    offset: int
    rec_type: str
    url: str
    status: int | None
    headers: dict[str, str]
    body: bytes
    warc_date: str


def _http_headers(record: Any) -> tuple[int | None, dict[str, str]]:
    http = record.http_headers
    if http is None:
        return None, {}
    try:
        status: int | None = int(http.get_statuscode())
    except (TypeError, ValueError):
        status = None
    return status, {name.lower(): value for name, value in http.headers}


class WarcReadError(Exception):
    """A truncated or corrupt record at `offset`: the file cannot be read past it."""

    def __init__(self, offset: int, cause: BaseException) -> None:
        super().__init__(
            f"unreadable WARC record at offset {offset}: {type(cause).__name__}: {cause}"
        )
        self.offset = offset


def iter_records(fh: IO[bytes]) -> Iterator[WarcRecord]:
    """Records in file order with their offsets; a response's body is read (and decoded of
    its transfer and content encodings by warcio), other records' bodies are passed over.
    A truncated or corrupt record raises WarcReadError with the offset it starts at."""
    it = ArchiveIterator(fh)
    records = iter(it)
    while True:
        start = it.offset  # the previous record was read to its end: this one starts here
        try:
            record = next(records, None)
            if record is None:
                return
            body = record.content_stream().read() if record.rec_type == "response" else b""
            offset = it.get_record_offset()  # reads the record to its end
            missing = getattr(record.raw_stream, "limit", 0)
            if missing > 0:  # warcio yields a cut-off record as if it were whole
                raise EOFError(f"record cut off, {missing} bytes short of its Content-Length")
        except httpx.TransportError:
            raise  # the network, not the file: the ingest tries this file again later
        except Exception as exc:  # warcio's ArchiveLoadFailed, EOFError, zlib.error, ...
            raise WarcReadError(start, exc) from exc
        status, headers = _http_headers(record)
        yield WarcRecord(
            offset=offset,
            rec_type=record.rec_type,
            url=record.rec_headers.get_header("WARC-Target-URI") or "",
            status=status,
            headers=headers,
            body=body,
            warc_date=record.rec_headers.get_header("WARC-Date") or "",
        )
