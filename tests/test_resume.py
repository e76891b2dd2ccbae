"""`marsad run` as an operator meets it: killed with -9 at random moments, stopped with
Ctrl-C, pointed at sources that are all down. Real processes, real loopback HTTP, a real
Prefect server; the output is read back with polars and DuckDB."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest

from marsad.state import StateStore

sys.path.insert(0, str(Path(__file__).parent))
from faultserver import FaultState, fault_server

SETTINGS = "batch_size: 2\nper_host_delay_s: 0\nbackoff_base_s: 0.01\nner_neural: false\n"


def start_run(
    sources: Path, out: Path, settings: Path, env: dict[str, str]
) -> subprocess.Popen[str]:
    """`marsad run` in its own process group, as a shell's job would be."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "marsad.cli", "run", "--sources", str(sources)),
            *("--out", str(out), "--settings", str(settings), "--allow-private-networks"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING", **env},
        start_new_session=True,
    )


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[tuple[str, FaultState, Path, Path]]:
    with fault_server() as (bases, state):
        base = bases["127.0.0.1"]
        sources = tmp_path / "sources.yaml"
        sources.write_text(f"sources:\n  - name: fault\n    feeds: [{base}/feed.xml]\n")
        settings = tmp_path / "settings.yaml"
        settings.write_text(SETTINGS)
        yield base, state, sources, settings


def accounted(out: Path) -> tuple[set[str], set[str], int, int]:
    """URLs with an article row, URLs with a failure row, rows, distinct article ids."""
    arts = pl.read_parquet(f"{out}/articles/**/*.parquet") if list(out.glob("articles/*")) else None
    fails = (
        pl.read_parquet(f"{out}/failures/**/*.parquet") if list(out.glob("failures/*")) else None
    )
    stored = set(arts["url"]) if arts is not None else set()
    failed = set(fails["url"]) if fails is not None else set()
    rows = arts.height if arts is not None else 0
    distinct = arts["article_id"].n_unique() if arts is not None else 0
    return stored, failed, rows, distinct


@pytest.mark.slow
def test_kill_9_at_random_points_loses_no_discovered_url(
    tmp_path: Path, site: tuple[str, FaultState, Path, Path], prefect_server: str
) -> None:
    """20 runs killed with -9 at random moments, against a feed that answers 304 after its
    first 200 (so a run killed after that 200 is the only one that ever sees the items);
    then one run finishes. Every item is an article or a failure, no article twice."""
    base, state, sources, settings = site
    state.n_articles, state.latency_s = 12, 0.3  # a run long enough to be killed inside
    out = tmp_path / "out"
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    env = {"PREFECT_API_URL": prefect_server}
    pending_after_kill = []
    for _ in range(20):
        hits = len(state.log)
        proc = start_run(sources, out, settings, env)
        if rng.random() < 0.2:  # while starting up, discovering or writing the first rows
            time.sleep(rng.uniform(0.5, 4.0))
        else:  # a random moment after the run's first request (start-up time varies)
            deadline = time.monotonic() + 120
            while len(state.log) == hits and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 4.0))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if (out / ".marsad").exists() or out.exists():
            with StateStore.for_output(out) as st:
                pending_after_kill.append(len(st.pending({"fault"})))
    final = start_run(sources, out, settings, env)
    _stdout, stderr = final.communicate(timeout=300)
    assert final.returncode == 0, (seed, stderr[-3000:])

    feed_answers = [h.headers.get("If-None-Match") for h in state.hits(r"^/feed\.xml")]
    assert feed_answers.count('"feed-v1"') >= 1, (seed, feed_answers)  # 304s happened
    assert any(pending_after_kill), (seed, pending_after_kill)  # kills landed mid-run
    items = {f"{base}/article/{i}.html?utm_source=rss" for i in range(12)}
    stored, failed, rows, distinct = accounted(out)
    assert items <= stored | failed, (seed, sorted(items - stored - failed))
    assert rows == distinct, seed
    total, unique = duckdb.sql(
        f"select count(*), count(distinct article_id) "
        f"from read_parquet('{out}/articles/**/*.parquet')"
    ).fetchall()[0]
    assert total == unique == rows
    with StateStore.for_output(out) as st:
        assert st.pending({"fault"}) == []


@pytest.mark.slow
def test_ctrl_c_stops_a_run_within_seconds_and_the_next_run_resumes(
    tmp_path: Path, site: tuple[str, FaultState, Path, Path]
) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while pages are
    being fetched: out within 10 s with exit 130, a summary and no traceback, Prefect's
    ephemeral server gone with it; the next run stores the rest, nothing twice."""
    base, state, sources, settings = site
    state.n_articles, state.feed_path = 8, "slow"  # 3 s a page
    slow = settings.read_text() + "timeout_s: 10\nmax_fetch_time_s: 10\n"
    settings.write_text(slow)
    out = tmp_path / "out"
    env = {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }
    proc = start_run(sources, out, settings, env)
    deadline = time.monotonic() + 180
    while not state.hits("^/slow/") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert state.hits("^/slow/"), proc.communicate()[1][-3000:]
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    took = time.monotonic() - t0
    assert proc.returncode == 130, (stdout, stderr[-3000:])
    assert took <= 10, took
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr[-3000:]
    assert "stopping after the current batch" in stderr
    assert "stored " in stdout and "deferred" in stdout
    time.sleep(1)
    assert not group_alive(proc.pid)  # no server child left behind

    proc = start_run(sources, out, settings, env)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    stored, _failed, rows, distinct = accounted(out)
    assert stored == {f"{base}/slow/{i}.html?utm_source=rss" for i in range(8)}
    assert rows == distinct == 8


def test_a_run_whose_sources_all_fail_exits_3_with_the_reasons(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sources:\n  - name: a\n    feeds: [http://127.0.0.1:{dead}/rss]\n"
        f"  - name: b\n    homepage: http://127.0.0.1:{dead}/\n"
    )
    settings = tmp_path / "settings.yaml"
    settings.write_text(SETTINGS + "max_attempts: 1\n")
    env = {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }
    proc = start_run(sources, tmp_path / "out", settings, env)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 3, (stdout, stderr[-3000:])
    assert "every source failed at discovery: feed: robots.txt unreachable: connection" in stderr
    assert "stored 0 articles, 2 failures" in stdout and "Traceback" not in stderr
