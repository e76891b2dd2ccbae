"""The whole monitor flow against the fault-injection server: twice, over real loopback HTTP."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

from marsad.warc import iter_responses

sys.path.insert(0, str(Path(__file__).parent))
from faultserver import fault_server
from test_fetch import FAST as FETCH_FAST

pytestmark = pytest.mark.usefixtures("prefect_harness")

FAST = FETCH_FAST.model_copy(update={"batch_size": 4})

LISTED = {
    "/flaky/1.html": None,
    "/ratelimit/1.html": None,
    "/cp1256/1.html": None,
    "/private/1.html": "disallowed by robots.txt",
    "/to-metadata": "refused link-local address 169.254.169.254",
    "/challenge.html": "bot challenge page (cloudflare, HTTP 200)",
    "/gone.html": "HTTP 410",
}


def test_monitor_flow_against_the_fault_server(tmp_path: Path) -> None:
    from marsad.flows.monitor import monitor

    out = tmp_path / "out"
    with fault_server() as (bases, state):
        base = bases["127.0.0.1"]
        sources = tmp_path / "sources.yaml"
        urls = ", ".join(base + p for p in LISTED)
        sources.write_text(
            f"sources:\n  - name: fault\n    feeds: [{base}/feed.xml]\n    urls: [{urls}]\n",
            encoding="utf-8",
        )
        first = monitor(sources=str(sources), out=str(out), settings=FAST)
        articles_after_first = len(state.hits(r"^/article/"))
        second = monitor(sources=str(sources), out=str(out), settings=FAST)

    arts = pl.read_parquet(f"{out}/articles/**/*.parquet")
    fails = pl.read_parquet(f"{out}/failures/**/*.parquet")
    stored = {u.replace(base, "") for u in arts["url"]}
    expected_articles = {p for p, r in LISTED.items() if r is None} | {
        f"/article/{i}.html?utm_source=rss" for i in range(3)
    }
    # every URL ends as an article or as a failure with a precise reason
    assert stored == expected_articles
    assert first["stored"] == len(expected_articles)
    errors = {u.replace(base, ""): e for u, e in zip(fails["url"], fails["error"], strict=True)}
    assert set(errors) == {p for p, r in LISTED.items() if r}
    for path, reason in LISTED.items():
        if reason:
            assert errors[path].startswith(reason), (path, errors.get(path))
    # windows-1256, declared nowhere, decoded by detection
    cp1256 = arts.filter(pl.col("url").str.contains("cp1256")).row(0, named=True)
    assert cp1256["title"] == "خبر بترميز ويندوز العربي" and "الحكومة" in cp1256["text"]
    assert set(arts["canonical_url"].str.contains("utm_")) == {False}

    # second run: the feed answers 304 and no stored article is fetched again
    assert second["not_modified"] == 1 and second["stored"] == 0
    assert len(state.hits(r"^/article/")) == articles_after_first == 3
    assert state.hits("/private/") == []
    assert len(state.hits(r"^/robots\.txt$")) == 1  # cached in the state store across runs
    assert (out / "state" / "fetch.sqlite").exists()
    archived = {r.final_url.replace(base, "") for r in iter_responses(out)}
    assert {"/feed.xml", "/article/0.html?utm_source=rss", "/cp1256/1.html"} <= archived
