"""The `ingest` deployment registers on a real Prefect server: from marsad's builder (what
`marsad serve` registers) and from deployments/prefect.yaml (`prefect deploy`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

APPLY = """
import sys
from prefect.types.entrypoint import EntrypointType
from marsad.flows.ingest import ingest
from marsad.serve_deployments import ingest_deployment

dep = ingest_deployment(
    ingest, sys.argv[1], {"settings": {"batch_size": 7}},
    entrypoint_type=EntrypointType.MODULE_PATH, tags=["marsad"],
)
dep.name = "ingest-served"
print(dep.apply())
"""


def _env(api: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        **extra,
    }


def _deployment(api: str, name: str) -> dict[str, Any]:
    resp = httpx.get(f"{api}/deployments/name/ingest/{name}", timeout=60)
    resp.raise_for_status()
    dep: dict[str, Any] = resp.json()
    return dep


def _check(dep: dict[str, Any]) -> None:
    """On demand, one at a time, and the UI's form asks for the WARC files."""
    assert dep["schedules"] == []
    assert dep["global_concurrency_limit"]["limit"] == 1
    schema = dep["parameter_openapi_schema"]
    assert set(schema["required"]) == {"warcs", "out"}
    assert set(schema["properties"]) == {"warcs", "out", "sources", "language", "settings"}


def test_ingest_deployments_register(prefect_server: str, tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    env = _env(prefect_server, MARSAD_CHECKOUT=str(REPO), MARSAD_OUT=out)
    done = subprocess.run(
        [sys.executable, "-c", APPLY, out],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    served = _deployment(prefect_server, "ingest-served")
    _check(served)
    assert served["parameters"] == {"out": out, "settings": {"batch_size": 7}}
    assert served["entrypoint"] == "marsad.flows.ingest.ingest"

    prefect = [sys.executable, "-m", "prefect", "--no-prompt"]
    subprocess.run(
        [*prefect, "work-pool", "create", "marsad", "--type", "process", "--overwrite"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    done = subprocess.run(
        [*prefect, "deploy", "--name", "ingest", "--prefect-file", "deployments/prefect.yaml"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    worker = _deployment(prefect_server, "ingest")
    _check(worker)
    assert worker["parameters"] == {"out": out}
    assert worker["entrypoint"] == "flows/ingest.py:ingest"
    assert worker["work_pool_name"] == "marsad"
