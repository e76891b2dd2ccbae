"""Scale-out: a monitor run whose CPU stages run on a Dask cluster of two worker processes.

`marsad run --runner tcp://…` runs as a subprocess against the real test server; the
workers report their task runs to the same server and load the NER model once each.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest

from marsad.demo import demo_sources_yaml

pytestmark = pytest.mark.slow


def _models_loaded() -> int:
    from marsad.ner.backends import load_default_tagger

    return load_default_tagger.cache_info().misses


@pytest.fixture()
def cluster(prefect_server: str) -> Iterator[object]:
    from dask.distributed import Client, LocalCluster

    env = {"PREFECT_API_URL": prefect_server, "DO_NOT_TRACK": "1"}
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
            env=env,
        ) as lc,
        Client(lc) as client,
    ):
        yield client


def test_monitor_on_a_dask_cluster(
    prefect_server: str, cluster: object, tmp_path: Path, demo_site: str
) -> None:
    client = cluster
    sources = tmp_path / "sources.yaml"
    sources.write_text(demo_sources_yaml(demo_site), encoding="utf-8")
    out = tmp_path / "out"
    address = client.scheduler.address  # type: ignore[attr-defined]
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "marsad.cli",
            "run",
            "--sources",
            str(sources),
            "--out",
            str(out),
            "--allow-private-networks",
            "--batch-size",
            "2",
            "--runner",
            address,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "stored 6 articles" in done.stdout

    df = pl.scan_parquet(f"{out}/articles/**/*.parquet", hive_partitioning=True).collect()
    assert df.height == 6 and df["article_id"].n_unique() == 6
    assert df.filter(pl.col("entities").list.len() > 0).height >= 5

    # the CPU stages ran as one task run per batch, on the workers, reported to the server
    (run_id,) = set(df["run_id"])
    runs = httpx.post(
        f"{prefect_server}/task_runs/filter",
        json={"flow_runs": {"id": {"any_": [run_id]}}},
        timeout=30,
    ).json()
    process = [r for r in runs if r["name"].startswith("process")]
    # 8 new URLs in batches of 2; the last batch (a 404 and a PNG) fetches nothing to process
    assert len(process) == 3
    assert {r["state_type"] for r in process} == {"COMPLETED"}
    # each worker loaded the model at most once, and the batches did reach the workers
    loads = client.run(_models_loaded)  # type: ignore[attr-defined]
    assert len(loads) == 2
    assert all(n <= 1 for n in loads.values()) and sum(loads.values()) >= 1
