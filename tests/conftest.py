from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "seeds" / "demo"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (it takes ~10 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture()
def demo_site() -> Iterator[str]:
    from marsad.demo import serve_directory

    with serve_directory(DEMO) as base:
        yield base


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `prefect server start` on loopback (temporary PREFECT_HOME); yields its API URL.

    Separate from `prefect_harness`: tests hand this URL to the subprocesses they start
    (`marsad serve`, `prefect deploy`, Dask workers) through PREFECT_API_URL.
    """
    from marsad.serve import free_port, local_server

    with local_server(tmp_path_factory.mktemp("prefect-home"), free_port()) as api:
        yield api
