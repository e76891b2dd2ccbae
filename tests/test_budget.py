"""Time budgets: a run ends on time whatever its hosts do, and what it did not reach is
deferred (a failure row saying so) and fetched first by the next run. Real loopback HTTP."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from marsad.budget import (
    HOST_BUDGET,
    RUN_BUDGET,
    STOPPED,
    Budget,
    HostClock,
    clear_stop,
    request_stop,
    within,
)
from marsad.fetch.articles import fetch_articles
from marsad.record import FeedItem
from marsad.state import StateStore

sys.path.insert(0, str(Path(__file__).parent))
from faultserver import fault_server
from test_fetch import FAST

# --- the pure parts ----------------------------------------------------------------------


def test_budget_counts_down_and_a_stop_ends_it_at_once() -> None:
    b = Budget.starting_now(100.0, None)
    assert 99 < b.remaining() <= 100 and b.host_seconds == 50.0  # a host: half the run
    assert Budget().remaining() == float("inf")
    # no run budget (backfill, retry-failures): no deadline and no host share, unless given
    assert Budget.starting_now(None, None) == Budget(None, None)
    assert Budget.starting_now(None, 30.0) == Budget(None, 30.0)
    assert Budget(time.time() - 1).remaining() == 0.0 and b.why_out() == RUN_BUDGET
    try:
        request_stop()
        assert Budget().remaining() == 0.0 and b.why_out() == STOPPED
    finally:
        clear_stop()


def test_host_clock_counts_wall_time_with_a_request_in_flight() -> None:
    clock = HostClock({"a": 5.0}, limit=10.0)
    clock.enter("a")
    clock.enter("a")  # two requests at once are one stretch of the host's time
    time.sleep(0.2)
    clock.leave("a")
    clock.leave("a")
    assert 0.2 <= clock.now_spent["a"] < 0.4
    assert 5.2 <= clock.spent("a") < 5.4
    assert clock.deadline("a") is not None and clock.deadline("a") - time.time() < 4.9  # type: ignore[operator]
    assert HostClock({}, None).deadline("a") is None


def test_within_cancels_a_job_that_outlives_its_budget() -> None:
    done: list[str] = []

    async def job(delay: float) -> None:
        await asyncio.sleep(delay)
        done.append("finished")

    async def main() -> tuple[bool, bool]:
        quick = await within(Budget(time.time() + 2), job(0.05))
        slow = await within(Budget(time.time() + 0.3), job(5))
        return quick, slow

    t0 = time.monotonic()
    assert asyncio.run(main()) == (True, False)
    assert done == ["finished"] and time.monotonic() - t0 < 1.5


# --- fetching within a budget ------------------------------------------------------------


def test_a_batch_of_trickling_pages_ends_when_the_run_budget_does() -> None:
    """Four pages that drip a byte every 0.1 s (60 s each): the batch ends at the deadline,
    each page a deferred failure, none an article."""
    with fault_server() as (bases, _state):
        base = bases["127.0.0.1"]
        items = [FeedItem(f"{base}/drip.html?{i}", "slow") for i in range(4)]
        t0 = time.monotonic()
        arts, fails = asyncio.run(
            fetch_articles(items, FAST, "r", budget=Budget(time.time() + 1.5))
        )
        took = time.monotonic() - t0
    assert arts == [] and 1.4 < took < 3.5
    assert sorted(f.error for f in fails) == [RUN_BUDGET] * 4


def test_a_slow_host_uses_up_its_share_and_the_others_go_on(tmp_path: Path) -> None:
    """Host .2 trickles; host .3 answers at once. With 1 s per host, .3's pages are all
    fetched, .2's deferred as over the host budget (across two batches: the tally is the
    run's, kept in the state store)."""
    with fault_server(("127.0.0.2", "127.0.0.3")) as (bases, _state):
        slow, fast = bases["127.0.0.2"], bases["127.0.0.3"]
        budget = Budget(time.time() + 60, host_seconds=1.0)
        first = [FeedItem(f"{slow}/drip.html?{i}", "s") for i in range(2)]
        first += [FeedItem(f"{fast}/article/{i}.html", "f") for i in range(3)]
        t0 = time.monotonic()
        arts, fails = asyncio.run(fetch_articles(first, FAST, "run", tmp_path, budget=budget))
        second = [FeedItem(f"{slow}/drip.html?{i}", "s") for i in range(2, 4)]
        arts2, fails2 = asyncio.run(fetch_articles(second, FAST, "run", tmp_path, budget=budget))
        took = time.monotonic() - t0
    assert sorted(a.url for a in arts) == sorted(i.url for i in first if i.source == "f")
    assert [f.error for f in fails] == [HOST_BUDGET] * 2
    assert arts2 == [] and [(f.error, f.attempts) for f in fails2] == [(HOST_BUDGET, 0)] * 2
    assert took < 3.5  # the second batch did not even start the slow host's pages
    with StateStore.for_output(tmp_path) as st:
        assert st.host_seconds("run")["127.0.0.2"] >= 1.0


# --- a whole run -------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_a_run_out_of_time_defers_and_the_next_one_resumes(tmp_path: Path) -> None:
    """A feed of 8 pages that take 3 s each, and a 5 s run budget: the run ends on time,
    says what it deferred (state message, failure rows) and keeps those URLs pending; the
    next run, although the feed now answers 304, fetches exactly them."""
    from marsad.flows.monitor import monitor

    out = tmp_path / "out"
    settings = FAST.model_copy(
        update={
            "max_run_seconds": 5.0,
            "max_host_seconds": 5.0,
            "batch_size": 4,
            "per_host_concurrency": 4,
            "timeout_s": 10.0,
            "max_fetch_time_s": 10.0,
            "ner_neural": False,
        }
    )
    with fault_server() as (bases, state):
        state.n_articles, state.feed_path = 8, "slow"
        base = bases["127.0.0.1"]
        sources = tmp_path / "sources.yaml"
        sources.write_text(f"sources:\n  - name: slow\n    feeds: [{base}/feed.xml]\n")
        t0 = time.monotonic()
        first = monitor(sources=str(sources), out=str(out), settings=settings, return_state=True)
        took = time.monotonic() - t0
        summary = first.result()
        assert first.is_completed()
        n_stored, n_deferred = summary["stored"], summary["deferred"]
        assert first.message == f"stored {n_stored}, failed 0, deferred {n_deferred}"
        assert n_stored + n_deferred == 8 and n_stored >= 1 and n_deferred >= 4, summary
        # no page was asked for after the budget ran out (the clock starts before discovery)
        asked = [h.at for h in state.hits("^/(feed|slow)")]
        assert asked[-1] - asked[0] < 5.0, asked
        assert took < 5 + 40, took  # plus starting the flow, loading models, processing
        with StateStore.for_output(out) as st:
            assert len(st.pending({"slow"})) == n_deferred

        relaxed = settings.model_copy(update={"max_run_seconds": 120.0})
        second = monitor(sources=str(sources), out=str(out), settings=relaxed)
        feed_hits = [h.headers.get("If-None-Match") for h in state.hits(r"^/feed\.xml")]
    assert feed_hits == [None, '"feed-v1"']  # the second run's feed said 304
    assert second["not_modified"] == 1 and second["stored"] == n_deferred
    arts = pl.read_parquet(f"{out}/articles/**/*.parquet")
    assert arts.height == 8 == arts["article_id"].n_unique()
    fails = pl.read_parquet(f"{out}/failures/**/*.parquet")
    assert fails["error"].to_list() == [RUN_BUDGET] * n_deferred
    with StateStore.for_output(out) as st:
        assert st.pending({"slow"}) == []
