"""`marsad ingest` end to end: WARCs written by warcio (tests/test_ingest_warcs.py), read
from disk and over loopback HTTP, stored through the live stages and read back with polars
and DuckDB."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import duckdb
import polars as pl
import pytest
from faultcore import loopback

sys.path.insert(0, str(Path(__file__).parent))
from test_ingest_warcs import (
    ENTITY,
    FETCHED_AT,
    FOOTER,
    HOST,
    write_articles_warc,
    write_mixed_warc,
)

from marsad.flows.ingest import ingest
from marsad.ingest import read_chunk
from marsad.ingest_select import Selection
from marsad.ingest_state import IngestState
from marsad.settings import Settings

pytestmark = pytest.mark.usefixtures("prefect_harness")
SETTINGS = Settings(ner_neural=False, batch_size=2)


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with `Range: bytes=N-`, as object stores and CC-NEWS's HTTPS serve."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        spec = self.headers.get("Range", "")
        if not spec.startswith("bytes="):
            return super().send_head()
        path = Path(self.translate_path(self.path))
        start = int(spec.removeprefix("bytes=").split("-")[0])
        size = path.stat().st_size
        fh = open(path, "rb")  # noqa: SIM115 - closed by the base class after copying
        fh.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/warc")
        self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        return fh


def serve(root: Path) -> AbstractContextManager[str]:
    return loopback(partial(RangeHandler, directory=str(root)))


def run(warcs: list[str], out: Path, **params: object) -> dict[str, object]:
    state = ingest(warcs=warcs, out=str(out), settings=SETTINGS, return_state=True, **params)
    result = state.result()
    assert isinstance(result, dict)
    return result


def articles(out: Path) -> pl.DataFrame:
    return pl.read_parquet(f"{out}/articles/**/*.parquet")


@pytest.mark.parametrize("where", ["disk", "http"])
def test_ingest_stores_the_arabic_pages_and_counts_the_rest(tmp_path: Path, where: str) -> None:
    folder = tmp_path / "warcs"
    folder.mkdir()
    want, cut_at = write_mixed_warc(folder / "mixed.warc.gz")
    out = tmp_path / "out"
    with serve(folder) as base:
        target = f"{base}/mixed.warc.gz" if where == "http" else str(folder / "*.warc.gz")
        sources = tmp_path / "sources.yaml"
        sources.write_text(f"sources:\n  - name: paper\n    homepage: https://{HOST}/\n")
        first = run([target], out, sources=str(sources))
        # a second ingest of the same file adds nothing, not even the failure again
        second = run([target], out, sources=str(sources))

    got = articles(out)
    assert sorted(got["url"]) == sorted(want.values())
    assert set(got["source"]) == {"paper"}
    assert set(got["fetched_at"].dt.replace_time_zone(None)) == {FETCHED_AT.replace(tzinfo=None)}
    for row in got.iter_rows(named=True):
        assert row["title"].startswith("عنوان الخبر رقم")
        assert row["published_at"].date().isoformat() == "2024-03-01"
        assert ENTITY in row["text"] and FOOTER not in row["text"] and "الرئيسية" not in row["text"]
        assert row["language"] == "ar"
    cp1256 = got.filter(pl.col("url") == want["cp1256"])
    assert cp1256["title"][0] == "عنوان الخبر رقم 2"  # decoded, not mojibake
    mentions = duckdb.sql(
        f"SELECT DISTINCT entity_id FROM read_parquet('{out}/mentions/**/*.parquet')"
    ).fetchall()
    assert ("Q1065",) in mentions

    assert first["stored"] == 2
    assert first["skip_reasons"] == {
        "not a response": 4,  # warcinfo, request, revisit, metadata
        "not 200": 1,
        "not HTML": 1,
        "no source": 1,  # elsewhere.example.net
        "other language": 1,  # the English page
        "already stored": 0,
    }
    fails = duckdb.sql(
        f"SELECT url, stage, error FROM read_parquet('{out}/failures/**/*.parquet')"
    ).fetchall()
    assert len(fails) == 1
    url, stage, error = fails[0]
    assert url.endswith("mixed.warc.gz") and stage == "fetch"
    assert f"offset {cut_at}:" in error  # where the cut-off record starts

    assert second["stored"] == 0 and second["failed"] == 0
    assert articles(out).height == 2


def test_without_sources_every_domain_is_a_source_and_copies_are_skipped(
    tmp_path: Path,
) -> None:
    write_articles_warc(tmp_path / "a.warc.gz", 0, 5)
    write_articles_warc(tmp_path / "b.warc.gz", 3, 4)  # pages 3 and 4 again, then 5, 6
    out = tmp_path / "out"
    result = run([str(tmp_path / "a.warc.gz"), str(tmp_path / "b.warc.gz")], out)
    got = articles(out)
    assert got.height == 7 and got["article_id"].n_unique() == 7
    assert set(got["source"]) == {"example.org"}
    skips = result["skip_reasons"]
    assert isinstance(skips, dict)
    assert skips["already stored"] == 2 and skips["not a response"] == 9
    with IngestState(out) as state:
        assert state.position(str(tmp_path / "a.warc.gz"))[1] is True


def test_a_file_read_over_http_resumes_at_its_committed_offset(tmp_path: Path) -> None:
    urls = write_articles_warc(tmp_path / "c.warc.gz", 0, 5)
    out = tmp_path / "out"
    with serve(tmp_path) as base:
        uri = f"{base}/c.warc.gz"
        first = read_chunk(uri, 0, Selection(), "r", 2)
        assert first.next_offset is not None and len(first.articles) == 2
        with IngestState(out) as state:  # as a killed ingest leaves it after one chunk
            state.commit(uri, first.next_offset)
        result = run([uri], out)  # the rest through Range requests, two chunks
        with IngestState(out) as state:
            assert state.position(uri)[1] is True
    assert result["fetched"] == 3
    assert sorted(articles(out)["url"]) == sorted(urls[2:])
