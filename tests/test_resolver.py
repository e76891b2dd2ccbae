"""One way to the output: a path, its file:// URI and a non-local filesystem (fsspec's
memory://) reach the same datasets for the writer, burst alerts and retry-failures.

The bug this guards against: with a file:// output, burst events never fired because the
alerts looked for the articles under a relative `file:/…/articles` directory.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storefactory import article, burst, failure

from marsad.alerts import BURST_EVENT, BurstRule, find_bursts, mention_counts
from marsad.dataset import list_partitions, read_dataset, resolve
from marsad.flows.retry_failures import plan_retry, read_failures
from marsad.store import MAX_FILES, store_articles, store_batch

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)
RULE = BurstRule()  # 6 h window, 7 day baseline, factor 4, at least 5 mentions
BURSTING = {"Q1", "LOC:بغداد"}  # فؤاد حسين (linked) and بغداد (unlinked), 8 recent each


@pytest.fixture()
def memory_out() -> Iterator[str]:
    """A fresh output on fsspec's in-memory filesystem (process-wide: removed afterwards)."""
    import fsspec

    name = f"marsad-test-{uuid.uuid4().hex}"
    yield f"memory://{name}/out"
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{name}"):
        fs.rm(f"/{name}", recursive=True)


def test_bursts_found_through_a_file_uri_as_through_the_path(tmp_path: Path) -> None:
    out = tmp_path / "out"
    uri = out.as_uri()
    assert uri.startswith("file:///")
    arts = burst(NOW)
    store_articles(arts[:4], set(), uri, "r1", 0)  # half written through the URI...
    store_articles(arts[4:], set(), out, "r1", 1)  # ...half through the path: one output
    assert read_dataset(out, "articles", ["article_id"]).num_rows == len(arts)
    assert not (Path.cwd() / "file:").exists()

    by_path = mention_counts(str(out), NOW, RULE)
    by_uri = mention_counts(uri, NOW, RULE)
    assert by_uri == by_path == mention_counts(out, NOW, RULE)
    recent, base, names = by_uri
    assert recent == {"Q1": 8, "LOC:بغداد": 8} and base == {"Q1": 1, "LOC:بغداد": 1}
    found = find_bursts(recent, base, RULE, names)
    assert {b.key for b in found} == BURSTING
    assert found == find_bursts(*by_path[:2], RULE, by_path[2])
    assert {b.name for b in found} == {"فؤاد حسين", "بغداد"}


def test_memory_output_bursts_and_failures(memory_out: str, tmp_path: Path) -> None:
    loc = resolve(memory_out)
    assert loc.local is None and "memory" in loc.fs.type_name
    arts = burst(NOW)
    fails = [
        failure("http://x/page.html", day=10, run_id="r1"),
        failure("http://x/feed.xml", day=10, run_id="r1", kind="feed", error="HTTP 404"),
        failure("http://x/map.xml", day=9, run_id="r1", kind="sitemap", error="sitemap: HTTP 500"),
        failure("http://x/other.html", day=9, run_id="r0"),
    ]
    assert store_batch(arts, fails, set(), memory_out, "r1", 0) == {"s": len(arts)}
    # written through the real writer onto the fsspec filesystem, not onto the local disk
    assert not (Path.cwd() / "memory:").exists()
    assert sum(len(v) for v in list_partitions(loc, "failures").values()) == 2
    assert read_dataset(memory_out, "mentions").num_rows == 2 * len(arts)

    local = tmp_path / "local"
    store_articles(burst(NOW), set(), local, "r1", 0)
    counts = mention_counts(memory_out, NOW, RULE)
    assert counts == mention_counts(local, NOW, RULE)
    assert {b.key for b in find_bursts(*counts[:2], RULE, counts[2])} == BURSTING

    failed = read_failures(memory_out, "r1", None)
    assert sorted(zip(failed["url"], failed["kind"], strict=True)) == [
        ("http://x/feed.xml", "feed"),
        ("http://x/map.xml", "sitemap"),
        ("http://x/page.html", "article"),
    ]
    plan = plan_retry(failed)
    assert [i.url for i in plan.items] == ["http://x/page.html"]
    assert [(s.feeds, s.sitemaps) for s in plan.sources] == [
        (["http://x/feed.xml"], ["http://x/map.xml"])
    ]


def test_memory_output_rewrites_compacts_and_replaces(memory_out: str) -> None:
    """The writer's remote path: a crowded partition compacted on the spot, a re-processed
    article superseded, every row once."""
    for seq in range(MAX_FILES + 2):
        art = article(seq, run_id=f"r{seq}")
        store_batch([art], [failure(f"http://x/{seq}")], set(), memory_out, f"r{seq}", 0)
    parts = list_partitions(resolve(memory_out), "articles")
    assert list(parts) == ["date=2026-01-03"]
    assert 1 <= len(parts["date=2026-01-03"]) <= MAX_FILES
    redo = article(3, run_id="again", title="عنوان جديد")
    assert store_batch([redo], [], set(), memory_out, "again", 0, replace=True) == {"s": 1}
    table = read_dataset(memory_out, "articles", ["article_id", "title"])
    assert table.num_rows == MAX_FILES + 2 == len(set(table["article_id"].to_pylist()))
    assert table["title"].to_pylist().count("عنوان جديد") == 1
    assert read_dataset(memory_out, "mentions").num_rows == 2 * (MAX_FILES + 2)
    assert read_dataset(memory_out, "failures").num_rows == MAX_FILES + 2


@pytest.mark.slow
def test_burst_events_reach_the_server_from_a_flow_with_a_file_uri(
    prefect_harness: None, tmp_path: Path
) -> None:
    """finish_run (the end of every run) emits `marsad.entity.burst` events, read back from
    the test server's event store, for an output given as file://."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    from marsad.flows.run import Run, finish_run
    from marsad.settings import Settings

    @flow(name="bursts-file-uri")
    def end_of_run(out: str) -> dict[str, object]:
        return finish_run(Run(out, Settings()), BurstRule())

    out = tmp_path / "out"
    store_articles(burst(datetime.now(UTC)), set(), out, "r1", 0)
    result = end_of_run(out.as_uri())
    wanted = EventFilter(
        event=EventNameFilter(name=[BURST_EVENT]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{result['run_id']}"]),
    )
    events = []
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            events = client.read_events(wanted, limit=50).events
            if len(events) >= len(BURSTING):
                break
            time.sleep(0.2)
    assert {e.resource.id for e in events} == {f"marsad.entity.{k}" for k in BURSTING}
    for e in events:
        assert e.payload["recent"] == 8 and e.payload["ratio"] == pytest.approx(
            9 / (1 + 1 / 28), abs=0.01
        )
        assert e.payload["window_hours"] == RULE.window_hours


def test_no_burst_without_enough_mentions(tmp_path: Path) -> None:
    """The counts are not trivially non-empty: two recent mentions are no burst."""
    out = tmp_path / "out"
    store_articles(burst(NOW, recent=2), set(), out.as_uri(), "r1", 0)
    recent, base, names = mention_counts(out.as_uri(), NOW, RULE)
    assert recent == {"Q1": 2, "LOC:بغداد": 2}
    assert find_bursts(recent, base, RULE, names) == []
    assert mention_counts(out.as_uri(), NOW + timedelta(days=30), RULE) == ({}, {}, {})
