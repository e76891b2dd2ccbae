"""`marsad ingest` killed with -9 mid-file, then run again: every record stored exactly once.

Real processes against a real Prefect server (the `prefect_server` fixture); the output is
read back with polars and DuckDB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_ingest_warcs import write_articles_warc

from marsad.ingest_state import IngestState

pytestmark = pytest.mark.slow
SETTINGS = "batch_size: 2\nworkers: 1\nner_neural: false\n"


def start(warcs: list[Path], out: Path, settings: Path, api: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "marsad.cli", "ingest", *map(str, warcs)),
            *("--out", str(out), "--settings", str(settings)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PREFECT_API_URL": api, "PREFECT_LOGGING_LEVEL": "WARNING"},
        start_new_session=True,
    )


def test_kill_9_mid_ingest_then_resume_stores_each_record_once(
    tmp_path: Path, prefect_server: str
) -> None:
    warcs = [tmp_path / "a.warc.gz", tmp_path / "b.warc.gz"]
    urls = write_articles_warc(warcs[0], 0, 16) + write_articles_warc(warcs[1], 100, 16)
    settings = tmp_path / "settings.yaml"
    settings.write_text(SETTINGS)
    out = tmp_path / "out"

    proc = start(warcs, out, settings, prefect_server)
    deadline = time.monotonic() + 240
    committed = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "state" / "fetch.sqlite").exists():
                with IngestState(out) as state:
                    committed = state.position(str(warcs[0].resolve()))[0]
                if committed:
                    break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert committed, "the first ingest committed no chunk before the deadline"
    with IngestState(out) as state:
        offset, done = state.position(str(warcs[0].resolve()))
    assert offset >= committed and not done  # killed mid-file

    again = start(warcs, out, settings, prefect_server)
    stdout, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stderr[-3000:]
    assert "skipped records:" in stdout
    got = pl.read_parquet(f"{out}/articles/**/*.parquet")
    assert sorted(got["url"]) == sorted(urls)  # each once: no loss, no duplicate row
    (rows, distinct), *_ = duckdb.sql(
        f"SELECT count(*), count(DISTINCT article_id) "
        f"FROM read_parquet('{out}/articles/**/*.parquet')"
    ).fetchall()
    assert rows == distinct == len(urls)
    with IngestState(out) as state:
        assert all(state.position(str(w.resolve()))[1] for w in warcs)


def test_ctrl_c_stops_an_ingest_after_its_chunks_in_flight_and_the_next_resumes(
    tmp_path: Path, prefect_server: str
) -> None:
    """Ctrl-C (SIGINT to the group, as a terminal sends it): the chunks in flight are stored
    and committed, no new one starts, exit 130 with the summary and no traceback."""
    warc = tmp_path / "a.warc.gz"
    urls = write_articles_warc(warc, 0, 24)
    settings = tmp_path / "settings.yaml"
    settings.write_text(SETTINGS)
    out = tmp_path / "out"
    key = str(warc.resolve())

    proc = start([warc], out, settings, prefect_server)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "state" / "fetch.sqlite").exists():
            with IngestState(out) as state:
                if state.position(key)[0]:
                    break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr[-3000:])
    assert "Traceback" not in stderr and "stopping after the current batch" in stderr
    assert "skipped records:" in stdout
    with IngestState(out) as state:
        offset, done = state.position(key)
    assert offset and not done  # stopped mid-file, its progress committed
    stopped = pl.read_parquet(f"{out}/articles/**/*.parquet").height
    assert 0 < stopped < len(urls)

    again = start([warc], out, settings, prefect_server)
    stdout, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stderr[-3000:]
    got = pl.read_parquet(f"{out}/articles/**/*.parquet")
    assert sorted(got["url"]) == sorted(urls) and got["article_id"].n_unique() == len(urls)
