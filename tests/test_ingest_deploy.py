"""The `ingest` deployment registers on a real Prefect server from marsad's builder (what
`marsad serve` registers); the one deployments/prefect.yaml declares is registered and checked
with the others by `prefect deploy --all` in test_deployments.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_deployments import _env, check_ingest

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


def _deployment(api: str, name: str) -> dict[str, Any]:
    resp = httpx.get(f"{api}/deployments/name/ingest/{name}", timeout=60)
    resp.raise_for_status()
    dep: dict[str, Any] = resp.json()
    return dep


def test_served_ingest_deployment_registers(prefect_server: str, tmp_path: Path) -> None:
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
    check_ingest(served)
    assert served["parameters"] == {"out": out, "settings": {"batch_size": 7}}
    assert served["entrypoint"] == "marsad.flows.ingest.ingest"
