"""WARC archive of every fetched response, so later runs can re-process without fetching.

Each batch writes one `DIR/raw/<run>-<seq>.warc.gz` under a hidden temporary name
and renames it when closed: a crash leaves only a `.tmp` file the reader ignores.
The body is stored decoded (after Content-Encoding); the original Content-Encoding,
Transfer-Encoding and Content-Length survive as `X-Archive-Orig-*` headers, the
convention of pywb, so the stored headers describe the stored bytes.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from marsad.charset import decode
from marsad.dataset import workdir
from marsad.fetch.http import is_html
from marsad.record import Article

SOURCE_HEADER = "WARC-Marsad-Source"
RUN_HEADER = "WARC-Marsad-Run-Id"
REQUESTED_HEADER = "WARC-Marsad-Requested-URI"
_REWRITTEN = ("content-encoding", "transfer-encoding", "content-length")
_MTIME_SLACK = timedelta(seconds=60)


@dataclass(slots=True)
class ArchivedResponse:
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime
    source: str
    run_id: str


def raw_dir(out: str | Path) -> Path:
    return workdir(out) / "raw"


def _warc_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_warc_date(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class WarcWriter:
    """One WARC file per batch; `write` appends a request and a response record."""

    def __init__(self, out: str | Path, run_id: str, label: str = "") -> None:
        folder = raw_dir(out)
        folder.mkdir(parents=True, exist_ok=True)
        stem = "-".join(p for p in (run_id, label, uuid.uuid4().hex[:8]) if p)
        self.path = folder / f"{stem}.warc.gz"
        self._tmp = folder / f".{stem}.warc.gz.tmp"
        self._fh = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()
        self._writer = WARCWriter(self._fh, gzip=True, warc_version="1.1")
        self.run_id = run_id
        self.count = 0

    def write(
        self,
        *,
        url: str,
        final_url: str,
        status: int,
        reason: str,
        request_headers: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        fetched_at: datetime,
        source: str,
    ) -> None:
        marsad = {
            "WARC-Date": _warc_date(fetched_at),
            SOURCE_HEADER: source,
            RUN_HEADER: self.run_id,
            REQUESTED_HEADER: url,
        }
        parts = urlsplit(final_url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        req_headers = [("Host", parts.netloc), *request_headers.items()]
        request = self._writer.create_warc_record(
            final_url,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            warc_headers_dict=dict(marsad),
            http_headers=StatusAndHeaders(
                f"GET {target} HTTP/1.1", req_headers, is_http_request=True
            ),
        )
        resp_headers: list[tuple[str, str]] = []
        for name, value in headers.items():
            if name.lower() in _REWRITTEN:
                resp_headers.append((f"X-Archive-Orig-{name}", value))
            else:
                resp_headers.append((name, value))
        resp_headers.append(("Content-Length", str(len(body))))
        response = self._writer.create_warc_record(
            final_url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            warc_headers_dict=dict(marsad),
            http_headers=StatusAndHeaders(
                f"{status} {reason or 'OK'}", resp_headers, protocol="HTTP/1.1"
            ),
        )
        request.rec_headers.add_header("WARC-Concurrent-To", response.rec_headers["WARC-Record-ID"])
        self._writer.write_record(request)
        self._writer.write_record(response)
        self.count += 1

    def close(self) -> Path | None:
        """Rename the finished file into place; an empty batch leaves no file."""
        if self._fh.closed:
            return self.path if self.path.exists() else None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        if self.count == 0:
            self._tmp.unlink(missing_ok=True)
            return None
        os.replace(self._tmp, self.path)
        return self.path


def _headers(http_headers: StatusAndHeaders) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in http_headers.headers:
        if name.lower() == "content-length":
            continue
        if name.lower().startswith("x-archive-orig-"):
            continue
        headers[name.lower()] = value
    return headers


def iter_responses(
    out: str | Path, since: datetime | None = None, until: datetime | None = None
) -> Iterator[ArchivedResponse]:
    """Every archived response under `out/raw`, oldest file first, filtered by fetch time.

    `since` is inclusive, `until` exclusive. Headers come back lower-cased, without
    the archive's own Content-Length and the rewritten transfer headers.
    """
    folder = raw_dir(out)
    if not folder.exists():
        return
    files = sorted(folder.glob("*.warc.gz"), key=lambda p: (p.stat().st_mtime, p.name))
    for path in files:
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if since is not None and mtime < since - _MTIME_SLACK:
            continue  # a closed file holds nothing newer than its mtime (coarse clock: slack)
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                fetched_at = parse_warc_date(record.rec_headers.get_header("WARC-Date"))
                if since is not None and fetched_at < since:
                    continue
                if until is not None and fetched_at >= until:
                    continue
                final_url = record.rec_headers.get_header("WARC-Target-URI")
                yield ArchivedResponse(
                    url=record.rec_headers.get_header(REQUESTED_HEADER) or final_url,
                    final_url=final_url,
                    status=int(record.http_headers.get_statuscode()),
                    headers=_headers(record.http_headers),
                    body=record.content_stream().read(),
                    fetched_at=fetched_at,
                    source=record.rec_headers.get_header(SOURCE_HEADER) or "",
                    run_id=record.rec_headers.get_header(RUN_HEADER) or "",
                )


def archived_articles(
    responses: Iterable[ArchivedResponse], run_id: str, sources: set[str] | None = None
) -> Iterator[Article]:
    """Archived 2xx HTML responses as fetched articles, first copy of each URL only."""
    done: set[str] = set()
    for r in responses:
        if not 200 <= r.status < 300 or (sources and r.source not in sources):
            continue
        ctype = r.headers.get("content-type", "")
        if not is_html(ctype, r.body) or r.url in done:
            continue
        done.add(r.url)
        yield Article(
            url=r.url,
            source=r.source,
            fetched_at=r.fetched_at,
            html=decode(r.body, ctype),
            final_url=r.final_url,
            run_id=run_id,
        )
