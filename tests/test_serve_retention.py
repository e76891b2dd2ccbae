"""Retention against a real Prefect server: the `cleanup` flow deletes old finished flow runs
(their task runs and logs with them), keeps recent ones, and never touches an open run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from serveharness import post

pytestmark = pytest.mark.slow


@pytest.fixture()
def api(prefect_server: str) -> Iterator[str]:
    from prefect.logging.handlers import APILogHandler
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: prefect_server}):
        yield prefect_server
        APILogHandler().flush()  # the flow's logs reach the server while it is up


def _run(api: str, flow_id: str, days_ago: float, state: str) -> str:
    """A flow run due `days_ago` days ago, now in `state`, with a task run and a log line."""
    due = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
    body = {
        "flow_id": flow_id,
        "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": due}},
    }
    run = post(api, "/flow_runs/", body).json()["id"]
    path = {"SCHEDULED": [], "CANCELLING": ["RUNNING", "CANCELLING"]}.get(state, [state])
    for step in path:  # CANCELLING only from a run that has started
        moved = post(api, f"/flow_runs/{run}/set_state", {"state": {"type": step}, "force": True})
        assert moved.json()["status"] == "ACCEPT", moved.text
    task = {"flow_run_id": run, "task_key": "k", "dynamic_key": run, "name": "t"}
    assert post(api, "/task_runs/", task).status_code == 201
    log = [{"name": "t", "level": 20, "message": "x", "timestamp": due, "flow_run_id": run}]
    assert post(api, "/logs/", log).status_code == 201  # type: ignore[arg-type]
    return str(run)


def _exists(api: str, run: str) -> bool:
    return httpx.get(f"{api}/flow_runs/{run}", timeout=60).status_code == 200


def _children(api: str, run: str) -> dict[str, list[Any]]:
    flt = {"flow_runs": {"id": {"any_": [run]}}}
    tasks = post(api, "/task_runs/filter", {"task_runs": {"flow_run_id": {"any_": [run]}}})
    logs = post(api, "/logs/filter", {"logs": {"flow_run_id": {"any_": [run]}}})
    assert post(api, "/flow_runs/filter", flt).status_code == 200
    return {"task_runs": tasks.json(), "logs": logs.json()}


def test_cleanup_deletes_old_finished_runs_only(api: str) -> None:
    from marsad.flows.cleanup import cleanup

    flow_id = post(api, "/flows/", {"name": "retention-test"}).json()["id"]
    old = {s: _run(api, flow_id, 40, s) for s in ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")}
    old_open = {
        s: _run(api, flow_id, 40, s) for s in ("RUNNING", "PENDING", "CANCELLING", "SCHEDULED")
    }
    recent = _run(api, flow_id, 3, "COMPLETED")
    edge = _run(api, flow_id, 29, "FAILED")
    assert all(_children(api, r)["task_runs"] and _children(api, r)["logs"] for r in old.values())

    result = cleanup(older_than_days=30)

    assert result["flow_runs"] >= len(old)  # and whatever else on this server was that old
    assert not any(_exists(api, r) for r in old.values()), "old finished runs must go"
    assert all(_exists(api, r) for r in old_open.values()), "open runs are never deleted"
    assert _exists(api, recent) and _exists(api, edge)
    for run in old.values():  # task runs at once (foreign key), logs in the server's background
        assert _children(api, run)["task_runs"] == []
    deadline = time.monotonic() + 60
    while any(_children(api, r)["logs"] for r in old.values()) and time.monotonic() < deadline:
        time.sleep(1)
    assert not any(_children(api, r)["logs"] for r in old.values())
    assert _children(api, recent)["logs"], "a kept run keeps its logs"

    # a second pass finds nothing more of ours; a narrower window takes the 29-day run too
    assert cleanup(older_than_days=30)["flow_runs"] == 0
    assert cleanup(older_than_days=28)["flow_runs"] >= 1
    assert not _exists(api, edge) and _exists(api, recent)
    for run in old_open.values():  # leave the server as tests expect to find it
        post(api, f"/flow_runs/{run}/set_state", {"state": {"type": "CRASHED"}, "force": True})
