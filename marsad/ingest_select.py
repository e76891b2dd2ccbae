"""Which WARC records become articles, and the reason each other record is skipped.

A record becomes an article when it is a `response` with HTTP 200 and an HTML content
type from a host that belongs to a source; its language is judged after extraction
(`marsad.ingest`). Every other record is counted under one of SKIP_REASONS, never
written as a failure: a WARC of the web is mostly what a monitor does not want.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from courlan import extract_domain

from marsad.charset import decode
from marsad.fetch.http import is_html
from marsad.ingest_read import WarcRecord
from marsad.record import Article
from marsad.sources import Source
from marsad.warc import parse_warc_date

NOT_RESPONSE = "not a response"
NOT_200 = "not 200"
NOT_HTML = "not HTML"
NO_SOURCE = "no source"
OTHER_LANGUAGE = "other language"
ALREADY_STORED = "already stored"
SKIP_REASONS = (NOT_RESPONSE, NOT_200, NOT_HTML, NO_SOURCE, OTHER_LANGUAGE, ALREADY_STORED)


@dataclass(frozen=True, slots=True)
class Selection:
    """What an ingest keeps: `hosts` maps a host (without www.) to its source's name; empty
    means no sources file, and a record's source is its registered domain. `language`
    None keeps every language."""

    hosts: dict[str, str] = field(default_factory=dict)
    language: str | None = "ar"

    @classmethod
    def of(cls, sources: Iterable[Source] | None, language: str | None) -> Selection:
        hosts: dict[str, str] = {}
        for src in sources or ():
            for host in src.hosts():
                hosts.setdefault(host, src.name)
        return cls(hosts, language or None)

    def source_for(self, url: str) -> str | None:
        """The source whose host (or a parent domain of it) the URL is on, the most
        specific first; without sources, the URL's registered domain (its host when it has
        none, as an IP address has not)."""
        host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
        if not host:
            return None
        if not self.hosts:
            return extract_domain(url) or host
        labels = host.split(".")
        for i in range(len(labels)):
            name = self.hosts.get(".".join(labels[i:]))
            if name is not None:
                return name
        return None


def select(record: WarcRecord, selection: Selection, run_id: str) -> Article | str:
    """The record as a fetched article, or the reason it is skipped."""
    if record.rec_type != "response":
        return NOT_RESPONSE
    if record.status != 200:
        return NOT_200
    ctype = record.headers.get("content-type", "")
    if not is_html(ctype, record.body):
        return NOT_HTML
    source = selection.source_for(record.url)
    if source is None:
        return NO_SOURCE
    return Article(
        url=record.url,
        source=source,
        fetched_at=parse_warc_date(record.warc_date),
        html=decode(record.body, ctype),
        final_url=record.url,
        run_id=run_id,
    )
