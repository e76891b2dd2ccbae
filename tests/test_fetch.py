"""The fetch stage against the fault-injection server, over real loopback HTTP (no Prefect)."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from marsad.fetch.articles import fetch_articles
from marsad.fetch.discovery import discover_all
from marsad.record import FeedItem
from marsad.settings import Settings
from marsad.sources import Source
from marsad.state import StateStore
from marsad.store import settle
from marsad.warc import iter_responses

sys.path.insert(0, str(Path(__file__).parent))
from faultserver import FaultState, fault_server, gzip_bomb

FAST = Settings(
    allow_private_networks=True,
    per_host_delay_s=0.0,
    backoff_base_s=0.01,
    backoff_max_s=2.0,
    timeout_s=1.0,
    max_fetch_time_s=2.0,
    max_body_bytes=2_000_000,
)


@pytest.fixture()
def server() -> Iterator[tuple[str, FaultState]]:
    with fault_server() as (bases, state):
        yield bases["127.0.0.1"], state


def fetch(
    base: str, paths: list[str], settings: Settings = FAST, out: Path | None = None
) -> tuple[dict[str, object], dict[str, object]]:
    items = [FeedItem(base + p, "fault") for p in paths]
    arts, fails = asyncio.run(fetch_articles(items, settings, "run-1", out))
    return {a.url[len(base) :]: a for a in arts}, {f.url[len(base) :]: f for f in fails}


def test_every_url_ends_as_an_article_or_a_precise_failure(
    server: tuple[str, FaultState], tmp_path: Path
) -> None:
    base, state = server
    expected_failures = {
        "/loop/a": "redirect loop at",
        "/to-metadata": "refused link-local address 169.254.169.254",
        "/huge.html": "body too large: over 2000000 bytes",
        "/bomb.html": "decompressed body over 2000000 bytes (gzip bomb?)",
        "/truncated.html": "truncated body: 2000 of 100000 bytes received",
        "/challenge.html": "bot challenge page (cloudflare, HTTP 200)",
        "/image.png": "not HTML: image/png",
        "/gone.html": "HTTP 410",
        "/private/1.html": "disallowed by robots.txt",
    }
    expected_articles = ["/article/1.html", "/cp1256/1.html", "/flaky/1.html", "/ratelimit/1.html"]
    arts, fails = fetch(base, expected_articles + list(expected_failures), out=tmp_path)

    assert sorted(arts) == sorted(expected_articles)
    assert sorted(fails) == sorted(expected_failures)
    for path, reason in expected_failures.items():
        assert fails[path].error.startswith(reason), (path, fails[path].error)
    # transient failures recover within the run, and say how many tries they took
    assert arts["/flaky/1.html"].attempts == 3
    assert arts["/ratelimit/1.html"].attempts == 2
    # permanent failures are not retried; transient ones are, up to max_attempts
    assert fails["/gone.html"].attempts == 1
    assert len(state.hits(r"^/gone\.html$")) == 1
    assert fails["/truncated.html"].attempts == FAST.max_attempts
    assert "queued for the next run" in fails["/truncated.html"].error
    # the SSRF redirect never reached anything: the metadata address is refused before connect
    assert len(state.hits(r"^/to-metadata$")) == 1
    # windows-1256 without any declaration is decoded by detection
    assert "خبر بترميز ويندوز العربي" in arts["/cp1256/1.html"].html


def test_malformed_urls_become_failures_not_crashes() -> None:
    urls = ["http://[::1/x", "http://127.0.0.1:99999/", "http:///nohost", "ftp://127.0.0.1/x"]
    arts, fails = asyncio.run(fetch_articles([FeedItem(u, "f") for u in urls], FAST, "r"))
    reasons = {f.url: f.error for f in fails}
    assert arts == [] and set(reasons) == set(urls)
    assert reasons["http://[::1/x"].startswith("invalid URL")
    assert reasons["http://127.0.0.1:99999/"].startswith("invalid URL")
    assert reasons["http:///nohost"] == "URL has no host"
    assert reasons["ftp://127.0.0.1/x"] == "refused scheme 'ftp'"


def test_retry_after_is_waited_out(server: tuple[str, FaultState]) -> None:
    base, state = server
    arts, _ = fetch(base, ["/ratelimit/7.html"])
    assert "/ratelimit/7.html" in arts
    first, second = state.hits(r"^/ratelimit/7\.html$")
    assert second.at - first.at >= 0.95  # the server asked for 1 s


def test_retry_after_beyond_the_cap_is_left_for_a_later_run(
    server: tuple[str, FaultState],
) -> None:
    base, state = server
    _, fails = fetch(base, ["/ratelimit/8.html"], FAST.model_copy(update={"backoff_max_s": 0.5}))
    assert "exceeds the 0.5 s cap" in fails["/ratelimit/8.html"].error
    assert len(state.hits(r"^/ratelimit/8\.html$")) == 1


def test_robots_disallowed_urls_are_never_requested(server: tuple[str, FaultState]) -> None:
    base, state = server
    paths = [f"/private/{i}.html" for i in range(4)] + ["/article/1.html"]
    arts, fails = fetch(base, paths)
    assert list(arts) == ["/article/1.html"]
    assert all(fails[p].error == "disallowed by robots.txt" for p in paths[:4])
    assert state.hits("/private/") == []
    assert len(state.hits(r"^/robots\.txt$")) == 1  # one read per host, shared by the batch
    ua = state.hits(r"^/article/")[0].headers["User-Agent"]
    assert "marsad" in ua and "http" in ua


def test_an_unreadable_robots_txt_disallows_everything_for_now() -> None:
    with fault_server(state=FaultState(robots_status=503)) as (bases, state):
        items = [FeedItem(f"{bases['127.0.0.1']}/article/{i}.html", "f") for i in range(3)]
        arts, fails = asyncio.run(fetch_articles(items, FAST, "run-1"))
    assert arts == [] and {f.error for f in fails} == {"robots.txt unavailable (HTTP 503)"}
    assert state.hits("/article/") == []  # an outage never turns into an impolite crawl


def test_robots_cache_persists_in_the_state_store(
    server: tuple[str, FaultState], tmp_path: Path
) -> None:
    base, state = server
    fetch(base, ["/article/1.html"], out=tmp_path)
    fetch(base, ["/article/2.html"], out=tmp_path)
    assert len(state.hits(r"^/robots\.txt$")) == 1
    expired = FAST.model_copy(update={"robots_ttl_s": 0.0})
    fetch(base, ["/article/3.html"], expired, out=tmp_path)
    assert len(state.hits(r"^/robots\.txt$")) == 2


def test_the_per_host_limit_is_never_exceeded() -> None:
    hosts = ("127.0.0.1", "127.0.0.2")
    with fault_server(hosts) as (bases, state):
        state.latency_s = 0.1
        items = [FeedItem(f"{bases[h]}/article/{i}.html", "fault") for h in hosts for i in range(8)]
        arts, fails = asyncio.run(fetch_articles(items, FAST, "run-1"))
    assert len(arts) == 16 and not fails
    # counted by the server: two at a time per host, and the limit was actually reached
    assert state.max_active == {"127.0.0.1": 2, "127.0.0.2": 2}


def assert_spaced(starts: list[float], delay: float) -> None:
    """Spaced by `delay` on the client; arrivals at the server jitter by a few ms under load."""
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.6 * delay, gaps
    assert starts[-1] - starts[0] >= 0.9 * delay * len(gaps), gaps


def test_the_per_host_delay_spaces_requests() -> None:
    with fault_server() as (bases, state):
        slow = FAST.model_copy(update={"per_host_delay_s": 0.2})
        items = [FeedItem(f"{bases['127.0.0.1']}/article/{i}.html", "f") for i in range(4)]
        asyncio.run(fetch_articles(items, slow, "run-1"))
    starts = sorted(h.at for h in state.hits(r"^/article/"))
    assert_spaced(starts, 0.2)


def test_slow_responses_and_slow_drip_bodies_time_out(server: tuple[str, FaultState]) -> None:
    base, _ = server
    settings = FAST.model_copy(
        update={"max_attempts": 1, "timeout_s": 0.5, "max_fetch_time_s": 1.0}
    )
    _, fails = fetch(base, ["/slow/1.html", "/drip.html"], settings)
    assert fails["/slow/1.html"].error.startswith("timeout")
    assert fails["/drip.html"].error.startswith("timeout: no complete response within 1 s")


def test_crawl_delay_is_honoured() -> None:
    state = FaultState(robots="User-agent: *\nCrawl-delay: 0.3\n")
    with fault_server(state=state) as (bases, st):
        items = [FeedItem(f"{bases['127.0.0.1']}/article/{i}.html", "f") for i in range(3)]
        arts, _ = asyncio.run(fetch_articles(items, FAST, "run-1"))
    assert len(arts) == 3
    starts = sorted(h.at for h in st.hits(r"^/article/"))
    assert_spaced(starts, 0.3)


def test_retry_queue_across_runs_then_quarantine(
    server: tuple[str, FaultState], tmp_path: Path
) -> None:
    base, state = server
    settings = FAST.model_copy(update={"max_attempts": 2, "retry_max_runs": 2})
    src = Source(name="fault", urls=[base + "/article/1.html"])

    _, fails = fetch(base, ["/truncated.html"], settings, out=tmp_path)
    assert fails["/truncated.html"].attempts == 2
    assert fails["/truncated.html"].error.endswith("queued for the next run (1/2)")

    # the next run's discovery brings the queued URL back, with what the feed said of it
    found = asyncio.run(discover_all([src], settings, "run-2", tmp_path))
    assert base + "/truncated.html" in [i.url for i in found.items]

    _, fails = fetch(base, ["/truncated.html"], settings, out=tmp_path)
    assert fails["/truncated.html"].attempts == 4  # counted across runs
    assert "quarantined after 2 runs" in fails["/truncated.html"].error

    found = asyncio.run(discover_all([src], settings, "run-3", tmp_path))
    assert base + "/truncated.html" not in [i.url for i in found.items]
    # listed again by a feed, it is not requested again
    before = len(state.hits(r"^/truncated\.html$"))
    _, fails = fetch(base, ["/truncated.html"], settings, out=tmp_path)
    assert fails["/truncated.html"].error.startswith("quarantined after 2 runs")
    assert len(state.hits(r"^/truncated\.html$")) == before == 4


def test_a_recovered_url_leaves_the_queue(server: tuple[str, FaultState], tmp_path: Path) -> None:
    base, _ = server
    settings = FAST.model_copy(update={"max_attempts": 1})
    _, fails = fetch(base, ["/flaky/3.html"], settings, out=tmp_path)
    assert "queued" in fails["/flaky/3.html"].error
    _, fails = fetch(base, ["/flaky/3.html"], settings, out=tmp_path)  # second 503
    arts, _ = fetch(base, ["/flaky/3.html"], settings, out=tmp_path)
    assert arts["/flaky/3.html"].attempts == 3  # one per run, summed
    with StateStore.for_output(tmp_path) as st:
        assert st.queued() == []


def test_discovery_feeds_sitemaps_robots_and_homepage(
    server: tuple[str, FaultState], tmp_path: Path
) -> None:
    base, state = server
    src = Source(name="fault", homepage=base + "/home.html", feeds=[base + "/bomb-feed.xml"])
    found = asyncio.run(discover_all([src], FAST, "run-1", tmp_path))
    urls = {i.url.replace(base, "") for i in found.items}
    # the homepage's <link rel=alternate> feed, and the sitemaps robots.txt names:
    # a sitemap index -> a Google-News sitemap and a gzipped sitemap
    assert urls == {
        "/article/0.html?utm_source=rss",
        "/article/1.html?utm_source=rss",
        "/article/2.html?utm_source=rss",
        "/article/100.html",
        "/article/101.html",
    }
    news = next(i for i in found.items if i.url.endswith("/article/100.html"))
    assert news.feed_title == "خبر من خريطة الأخبار" and news.feed_published_at is not None
    # outside the window: an index child last modified in 2015 is not even fetched,
    # and a 2016 entry of a fresh sitemap does not count
    assert state.hits("sitemap-old") == []
    assert "/article/102.html" not in urls
    # the XML bomb costs nothing and is recorded
    (bomb,) = found.failures
    assert bomb.url.endswith("/bomb-feed.xml") and "entities" in bomb.error


def test_sitemap_fetches_are_bounded_per_source(
    server: tuple[str, FaultState], tmp_path: Path
) -> None:
    base, state = server
    settings = FAST.model_copy(update={"max_sitemaps_per_source": 2})
    src = Source(name="fault", sitemaps=[base + "/sitemap_index.xml"])
    found = asyncio.run(discover_all([src], settings, "run-1", tmp_path))
    assert [i.url for i in found.items] == [base + "/article/100.html"]
    assert [h.path for h in state.hits("sitemap")] == ["/sitemap_index.xml", "/sitemap-news.xml"]


def test_second_run_over_an_unchanged_feed_takes_the_304_path(
    server: tuple[str, FaultState], tmp_path: Path
) -> None:
    base, state = server
    src = Source(name="fault", feeds=[base + "/feed.xml"])
    first = asyncio.run(discover_all([src], FAST, "run-1", tmp_path))
    assert len(first.items) == 3 and first.not_modified == []
    second = asyncio.run(discover_all([src], FAST, "run-2", tmp_path))
    # run-1 stored nothing, so its URLs are still pending: the 304 does not hide them
    assert second.items == first.items and second.not_modified == [("fault", base + "/feed.xml")]
    settle(tmp_path, [i.url for i in first.items])  # as the store stage does once rows are durable
    again = asyncio.run(discover_all([src], FAST, "run-2b", tmp_path))
    assert again.items == [] and again.not_modified == [("fault", base + "/feed.xml")]
    hit = state.hits(r"^/feed\.xml$")[-1]
    assert hit.headers["If-None-Match"] == '"feed-v1"'
    assert hit.headers["If-Modified-Since"] == "Sat, 28 Nov 2026 10:00:00 GMT"
    # the feed changes: a full response with its items again
    state.feed_version = 2
    third = asyncio.run(discover_all([src], FAST, "run-3", tmp_path))
    assert len(third.items) == 3 and third.not_modified == []


def test_validators_that_never_change_are_detected_and_dropped(
    server: tuple[str, FaultState], tmp_path: Path
) -> None:
    base, state = server
    settings = FAST.model_copy(update={"conditional_verify_every": 1})
    src = Source(name="fault", feeds=[base + "/lying-feed.xml"])
    runs = []
    for i in range(4):
        runs.append(asyncio.run(discover_all([src], settings, f"r{i}", tmp_path)))
        settle(tmp_path, [i.url for i in runs[-1].items])
    sent = ["If-None-Match" in h.headers for h in state.hits("lying-feed")]
    # full, conditional (304), verification in full (same ETag, new bytes), then no validators
    assert sent == [False, True, False, False]
    assert [len(r.not_modified) for r in runs] == [0, 1, 0, 0]
    assert len(runs[3].items) == 1
    with StateStore.for_output(tmp_path) as st:
        assert st.validators(base + "/lying-feed.xml").unreliable


def test_every_response_is_archived_and_read_back(
    server: tuple[str, FaultState], tmp_path: Path
) -> None:
    base, _ = server
    arts, _ = fetch(base, ["/article/1.html", "/cp1256/2.html", "/gone.html"], out=tmp_path)
    raw = list((tmp_path / "raw").iterdir())
    assert [p.suffixes for p in raw] == [[".warc", ".gz"]]  # no temporary file left behind
    records = {r.final_url.replace(base, ""): r for r in iter_responses(tmp_path)}
    assert set(records) == {"/robots.txt", "/article/1.html", "/cp1256/2.html", "/gone.html"}
    page = records["/cp1256/2.html"]
    assert page.status == 200 and page.source == "fault" and page.run_id == "run-1"
    assert page.headers["content-type"] == "text/html"
    assert page.body.decode("cp1256") in arts["/cp1256/2.html"].html
    assert records["/gone.html"].status == 410
    later = max(r.fetched_at for r in records.values())
    assert [r.fetched_at for r in iter_responses(tmp_path, since=later)] == [later]
    assert list(iter_responses(tmp_path, until=min(r.fetched_at for r in records.values()))) == []


_MEMORY_PROBE = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    from marsad.record import FeedItem
    from marsad.settings import Settings
    from marsad.fetch.articles import fetch_articles

    base = sys.argv[1]
    settings = Settings(allow_private_networks=True, per_host_delay_s=0, max_attempts=1)
    asyncio.run(fetch_articles([FeedItem(base + "/article/1.html", "f")], settings, "warm"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    items = [FeedItem(base + p, "f") for p in ("/huge.html", "/bomb.html")]
    _, fails = asyncio.run(fetch_articles(items, settings, "probe"))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth_kb": after - before, "errors": sorted(f.error for f in fails)}))
    """
)


def test_huge_body_and_gzip_bomb_are_aborted_with_bounded_memory(
    server: tuple[str, FaultState],
) -> None:
    base, _ = server
    gzip_bomb(200 * 1_048_576)  # build it before the clock starts
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, base],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    limit = Settings().max_body_bytes
    assert report["errors"] == [
        f"body too large: over {limit} bytes",
        f"decompressed body over {limit} bytes (gzip bomb?)",
    ]
    # 200 MB of body and 200 MB of inflated zeros: the peak grows by a few times the limit at most
    assert report["growth_kb"] * 1024 < 4 * limit, report
