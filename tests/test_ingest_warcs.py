"""WARCs the ingest tests write with warcio, and unit tests of record selection.

Bodies are the fault server's Arabic article pages (tests/faultpages.py) with a date,
boilerplate and a watchlist entity (the United Nations, Q1065) added.
"""

from __future__ import annotations

import gzip
import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).parent))
from faultpages import article_html

from marsad.ingest_read import WarcRecord
from marsad.ingest_select import (
    NO_SOURCE,
    NOT_200,
    NOT_HTML,
    NOT_RESPONSE,
    Selection,
    select,
)
from marsad.sources import parse_sources

HOST = "news.example.org"
WARC_DATE = "2024-03-02T08:15:00Z"
FETCHED_AT = datetime(2024, 3, 2, 8, 15, tzinfo=UTC)
FOOTER = "جميع الحقوق محفوظة لموقع الأخبار"
ENTITY = "الأمم المتحدة"
ENGLISH = (
    "<html><head><title>Markets rally</title></head><body><article><h1>Markets rally</h1>"
    + "<p>Stock markets rallied on Monday as investors welcomed the central bank's decision "
    "to hold interest rates steady, and analysts said the outlook had improved.</p>"
    * 6
    + "</article></body></html>"
)


def arabic_page(n: int, published: str = "2024-03-01") -> str:
    """A dated Arabic article naming the United Nations, with navigation and a footer."""
    html = article_html(f"عنوان الخبر رقم {n}", paragraphs=5, seed=n)
    meta = f'<meta property="article:published_time" content="{published}T10:00:00+00:00">'
    lead = f"<p>وقال متحدث باسم {ENTITY} إن الاجتماع سيعقد الأسبوع المقبل في جنيف.</p>"
    html = html.replace("</head>", meta + "</head>", 1).replace("</h1>", "</h1>" + lead, 1)
    return html.replace("<footer>حقوق النشر</footer>", f"<footer>{FOOTER}</footer>")


def _record(
    writer: WARCWriter,
    rec_type: str,
    url: str,
    body: bytes = b"",
    status: str = "200 OK",
    ctype: str | None = "text/html; charset=utf-8",
) -> None:
    headers = [("Content-Type", ctype)] if ctype else []
    http = None
    if rec_type in ("response", "revisit"):
        http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
    elif rec_type == "request":
        http = StatusAndHeaders("GET / HTTP/1.1", [("Host", HOST)], is_http_request=True)
    payload = io.BytesIO(body) if rec_type != "revisit" else None
    record = writer.create_warc_record(
        url,
        rec_type,
        payload=payload,
        length=len(body) if payload else 0,
        warc_headers_dict={"WARC-Date": WARC_DATE},
        http_headers=http,
    )
    if rec_type == "revisit":
        record.rec_headers.add_header(
            "WARC-Profile", "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
        )
    writer.write_record(record)


def write_mixed_warc(path: Path) -> tuple[dict[str, str], int]:
    """A WARC of every kind of record ingest meets, cut off in its last record; returns the
    URLs of the pages it must store (Arabic, 200, HTML) by role, and where the cut record
    starts."""
    stored = {
        "utf8": f"https://{HOST}/2024/03/01/first.html",
        "cp1256": f"https://www.{HOST}/2024/03/01/cp1256.html",
    }
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="1.1")
        w.write_record(w.create_warcinfo_record(path.name, {"software": "marsad tests"}))
        _record(w, "request", stored["utf8"])
        _record(w, "response", stored["utf8"], arabic_page(1).encode())
        # windows-1256 with no charset anywhere in the headers; the page's meta says nothing
        page = arabic_page(2).replace('<meta charset="utf-8">', "")
        _record(w, "response", stored["cp1256"], page.encode("cp1256"), ctype="text/html")
        _record(
            w, "response", f"https://{HOST}/missing.html", b"<html>gone</html>", "404 Not Found"
        )
        _record(w, "response", f"https://{HOST}/logo.png", b"\x89PNG\r\n", ctype="image/png")
        _record(w, "response", f"https://{HOST}/en/markets.html", ENGLISH.encode())
        _record(w, "revisit", stored["utf8"])
        w.write_record(
            w.create_warc_record(
                stored["utf8"], "metadata", payload=io.BytesIO(b"via: x\r\n"), length=8
            )
        )
        _record(w, "response", "https://elsewhere.example.net/a.html", arabic_page(3).encode())
    cut_at = path.stat().st_size  # a last record cut off halfway through its gzip member
    member = io.BytesIO()
    w = WARCWriter(member, gzip=True, warc_version="1.1")
    _record(w, "response", f"https://{HOST}/2024/03/01/cut.html", arabic_page(4).encode())
    data = member.getvalue()
    with open(path, "ab") as fh:
        fh.write(data[: len(data) // 2])
    return stored, cut_at


def write_articles_warc(path: Path, start: int, count: int, host: str = HOST) -> list[str]:
    """`count` Arabic articles (and their request records); returns their URLs."""
    urls = [f"https://{host}/2024/03/01/a{n}.html" for n in range(start, start + count)]
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="1.1")
        for n, url in zip(range(start, start + count), urls, strict=True):
            _record(w, "request", url)
            _record(w, "response", url, arabic_page(n).encode())
    return urls


def _rec(
    rec_type: str = "response",
    status: int | None = 200,
    ctype: str = "text/html",
    url: str = f"https://{HOST}/a.html",
    body: bytes = b"<html></html>",
) -> WarcRecord:
    return WarcRecord(0, rec_type, url, status, {"content-type": ctype}, body, WARC_DATE)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (_rec("request", None), NOT_RESPONSE),
        (_rec("revisit"), NOT_RESPONSE),
        (_rec(status=404), NOT_200),
        (_rec(status=301), NOT_200),
        (_rec(ctype="application/pdf"), NOT_HTML),
    ],
)
def test_records_that_are_not_pages_are_skipped_with_their_reason(
    record: WarcRecord, reason: str
) -> None:
    assert select(record, Selection(), "r") == reason


def test_sources_claim_their_hosts_and_subdomains_and_no_other() -> None:
    srcs = parse_sources(
        "sources:\n"
        "  - name: paper\n    feeds: [https://www.paper.example/rss]\n"
        "    domains: [paper-cdn.example]\n"
        "  - name: sport\n    homepage: https://sport.paper.example/\n"
    )
    sel = Selection.of(srcs, "ar")
    assert sel.source_for("https://paper.example/x") == "paper"
    assert sel.source_for("https://m.paper.example/x") == "paper"
    assert sel.source_for("https://img.paper-cdn.example/x") == "paper"
    assert sel.source_for("https://sport.paper.example/x") == "sport"  # the most specific
    assert sel.source_for("https://notpaper.example/x") is None
    assert select(_rec(url="https://other.example/x"), sel, "r") == NO_SOURCE


def test_without_sources_the_source_is_the_registered_domain() -> None:
    sel = Selection()
    assert sel.source_for("https://www.news.bbc.co.uk/a") == "bbc.co.uk"
    assert sel.source_for("https://www.aljazeera.net/a") == "aljazeera.net"
    assert sel.source_for("http://127.0.0.1:8080/a") == "127.0.0.1"


def test_a_selected_record_keeps_its_url_and_warc_date_and_its_charset() -> None:
    body = arabic_page(7).replace('<meta charset="utf-8">', "").encode("cp1256")
    art = select(_rec(body=body), Selection(), "r")
    assert not isinstance(art, str)
    assert art.url == f"https://{HOST}/a.html" and art.fetched_at == FETCHED_AT
    assert ENTITY in (art.html or "")


def test_a_truncated_member_is_unreadable_where_it_starts(tmp_path: Path) -> None:
    from marsad.ingest_read import WarcReadError, iter_records, open_at

    path = tmp_path / "t.warc.gz"
    _urls, cut_at = write_mixed_warc(path)
    seen = []
    with open_at(str(path)) as fh, pytest.raises(WarcReadError) as err:
        for rec in iter_records(fh):
            seen.append(rec)
    assert len(seen) == 10 and err.value.offset == cut_at
    assert str(err.value.offset) in str(err.value)
    with gzip.open(path) as gz, pytest.raises(EOFError):
        gz.read()  # the file really is cut off


def test_skip_reasons_reach_the_totals_row_and_the_result() -> None:
    from marsad.summary import RunSummary

    summary = RunSummary("r")
    summary.add("stored", {"paper": 2})
    summary.add_skips({NOT_HTML: 3, NO_SOURCE: 0})
    summary.add_skips({NOT_HTML: 1})
    *per_source, total = summary.rows(artifact=True)
    assert total["skip reasons"] == "not HTML ×4"
    assert all(row["skip reasons"] == "" for row in per_source)
    assert summary.as_dict()["skip_reasons"] == {NOT_HTML: 4, NO_SOURCE: 0}
    live = RunSummary("r2")
    live.add("stored", {"paper": 1})
    assert all("skip reasons" not in row for row in live.rows(artifact=True))
    assert "skip_reasons" not in live.as_dict()


def test_arguments_expand_to_each_file_once_and_a_typo_is_an_error(tmp_path: Path) -> None:
    from marsad.ingest_read import IngestInputError, expand

    for name in ("b.warc.gz", "a.warc.gz", "c.warc"):
        (tmp_path / name).write_bytes(b"")
    local = expand([str(tmp_path / "*.warc.gz"), str(tmp_path / "a.warc.gz")])
    assert local == [str(tmp_path / "a.warc.gz"), str(tmp_path / "b.warc.gz")]
    uris = expand([f"file://{tmp_path}/*.warc*"])
    assert uris == [f"file://{tmp_path}/{n}" for n in ("a.warc.gz", "b.warc.gz", "c.warc")]
    assert expand(["https://127.0.0.1:1/x.warc.gz"]) == ["https://127.0.0.1:1/x.warc.gz"]
    for typo in (str(tmp_path / "*.warcs"), str(tmp_path / "d.warc.gz"), f"file://{tmp_path}/*.x"):
        with pytest.raises(IngestInputError):
            expand([typo])
