"""Deployments on a real Prefect server: `marsad serve` as a subprocess, runs created through
the REST API exactly as the UI's Custom run does, and `prefect deploy` of prefect.yaml.

The server is the session fixture `prefect_server` (a real `prefect server start` on
127.0.0.1 with a temporary PREFECT_HOME); the source is the demo site on loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import polars as pl
import psutil
import pytest

from marsad.demo import demo_sources_yaml
from marsad.serve import stop_process

REPO = Path(__file__).resolve().parents[1]
FAST = {"per_host_delay_s": 0.0, "backoff_base_s": 0.01, "batch_size": 3}
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

pytestmark = pytest.mark.slow


def _env(api: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        **extra,
    }


def check_ingest(dep: dict[str, Any]) -> None:
    """On demand, one at a time, and the UI's form asks for the WARC files."""
    assert dep["schedules"] == []
    assert dep["global_concurrency_limit"]["limit"] == 1
    schema = dep["parameter_openapi_schema"]
    assert set(schema["required"]) == {"warcs", "out"}
    assert set(schema["properties"]) == {"warcs", "out", "sources", "language", "settings"}


def _post(api: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    """POST, retrying 503 (SQLite busy on a loaded machine) as Prefect's own client does."""
    for attempt in range(6):
        resp = httpx.post(f"{api}{path}", json=body or {}, timeout=60)
        if resp.status_code != 503:
            break
        time.sleep(2**attempt)
    return resp


def _deployments(api: str) -> dict[str, dict[str, Any]]:
    resp = _post(api, "/deployments/filter")
    resp.raise_for_status()
    return {d["name"]: d for d in resp.json()}


def _wait(
    what: str, check: Any, timeout_s: float, proc: subprocess.Popen[bytes] | None = None
) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) while waiting for {what}")
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _state(api: str, run_id: str) -> str:
    resp = httpx.get(f"{api}/flow_runs/{run_id}", timeout=60)
    return str(resp.json()["state_type"]) if resp.status_code == 200 else ""


def _wait_final(
    api: str, run_id: str, proc: subprocess.Popen[bytes], timeout_s: float = 240
) -> str:
    return str(
        _wait(
            f"flow run {run_id}",
            lambda: (s := _state(api, run_id)) in FINAL and s,
            timeout_s,
            proc,
        )
    )


def _custom_run(api: str, deployment_id: str, parameters: dict[str, Any]) -> httpx.Response:
    """What the UI's Custom run posts."""
    return _post(
        api,
        f"/deployments/{deployment_id}/create_flow_run",
        {"parameters": parameters, "state": {"type": "SCHEDULED"}},
    )


@pytest.fixture()
def served(
    prefect_server: str, tmp_path: Path, demo_site: str
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path, Path]]:
    sources = tmp_path / "sources.yaml"
    sources.write_text(demo_sources_yaml(demo_site), encoding="utf-8")
    settings = tmp_path / "settings.yaml"
    settings.write_text("".join(f"{k}: {v}\n" for k, v in FAST.items()), encoding="utf-8")
    out = tmp_path / "out"
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "marsad.cli", "serve", "--sources", str(sources)),
            *("--out", str(out), "--allow-private-networks", "--timezone", "Asia/Riyadh"),
            *("--settings", str(settings)),
        ],
        env=_env(prefect_server),
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield prefect_server, proc, sources, out
    finally:
        stop_process(proc, signal.SIGINT)
        log.close()
        print((tmp_path / "serve.log").read_text(errors="replace")[-3000:])


def test_serve_registers_runs_alerts_refuses_and_retries(
    served: tuple[str, subprocess.Popen[bytes], Path, Path],
) -> None:
    api, proc, _sources, out = served
    names = {"monitor-default", "backfill", "reprocess", "retry-failures"}
    everything = names | {"compact", "cleanup", "report", "ingest"}
    deps = _wait("deployments", lambda: everything <= set(d := _deployments(api)) and d, 120, proc)

    # the schedule, its timezone, and no overlap
    monitor = deps["monitor-default"]
    (sched,) = monitor["schedules"]
    assert sched["schedule"]["cron"] == "0 * * * *"
    assert sched["schedule"]["timezone"] == "Asia/Riyadh"
    assert monitor["global_concurrency_limit"]["limit"] == 1
    assert monitor["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert monitor["parameters"]["group"] == "default"
    assert monitor["parameters"]["out"] == str(out)
    assert monitor["parameters"]["allow_private_networks"] is True
    # --settings FILE: every deployment's `settings` parameter is what the file set; a
    # monitor's also carries its time budget, 80% of its schedule's interval
    for name in names - {"monitor-default"}:
        assert deps[name]["parameters"]["settings"] == FAST, name
    assert monitor["parameters"]["settings"] == {**FAST, "max_run_seconds": 2880.0}
    assert deps["compact"]["schedules"][0]["schedule"]["cron"] == "30 2 * * *"
    assert deps["cleanup"]["parameters"] == {"older_than_days": 30}
    assert deps["report"]["parameters"] == {"out": str(out), "days": 7}
    # the UI's form: every monitor parameter documented, nested models with field descriptions
    schema = monitor["parameter_openapi_schema"]
    props = schema["properties"]
    assert {"sources", "out", "allow_private_networks", "settings", "group", "bursts"} <= set(props)
    assert all(p.get("description") for p in props.values())
    assert schema["definitions"]["Settings"]["properties"]["batch_size"]["description"]
    backfill_props = deps["backfill"]["parameter_openapi_schema"]["properties"]
    assert backfill_props["since"]["format"] == "date"
    assert "run_id" in deps["retry-failures"]["parameter_openapi_schema"]["properties"]

    # invalid parameters are refused before anything runs, naming the field
    bad = _custom_run(api, monitor["id"], {"settings": {"batch_size": 0}})
    assert bad.status_code == 409
    assert "batch_size" in bad.text and "minimum" in bad.text
    bad = _custom_run(api, monitor["id"], {"allow_private_networks": "sometimes"})
    assert bad.status_code == 409 and "allow_private_networks" in bad.text

    # two Custom runs at once: one completes, the other is cancelled (CANCEL_NEW)
    params = {"settings": FAST, "bursts": {"window_hours": 87600, "min_mentions": 2}}
    started = datetime.now(UTC) - timedelta(minutes=1)
    first = _custom_run(api, monitor["id"], params)
    second = _custom_run(api, monitor["id"], params)
    assert first.status_code == second.status_code == 201, first.text
    runs = [first.json()["id"], second.json()["id"]]
    states = {r: _wait_final(api, r, proc) for r in runs}
    assert sorted(states.values()) == ["CANCELLED", "COMPLETED"], states
    (done,) = [r for r, s in states.items() if s == "COMPLETED"]

    # the Parquet is there, for polars and DuckDB
    df = pl.scan_parquet(f"{out}/articles/**/*.parquet", hive_partitioning=True).collect()
    assert df.height == 6 and df["article_id"].n_unique() == 6
    assert set(df["run_id"]) == {done}
    (n,) = duckdb.execute(
        f"select count(distinct article_id) from read_parquet('{out}/articles/**/*.parquet')"
    ).fetchall()[0]
    assert n == 6

    # the run's artifacts: per-source table, entities/watchlist markdown, progress at 100 %
    arts = _post(api, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [done]}}}).json()
    by_key = {a["key"]: a for a in arts if a["key"]}
    table = by_key["run-summary"]
    assert table["type"] == "table"
    assert '"marsad-demo"' in table["data"] and '"stored": 6' in table["data"]
    md = by_key["run-entities"]
    assert md["type"] == "markdown" and "Top 20 entities" in md["data"]
    progress = [a for a in arts if a["type"] == "progress"]
    assert progress and progress[0]["data"] == 100.0

    # alerts: watchlist hits and bursts became Prefect events tied to the run
    def events(name: str) -> list[dict[str, Any]]:
        body = {
            "filter": {
                "occurred": {"since": started.isoformat(), "until": datetime.now(UTC).isoformat()},
                "event": {"name": [name]},
                "related": {"resources_in_roles": [[f"prefect.flow-run.{done}", "flow-run"]]},
            },
            "limit": 50,
        }
        resp = _post(api, "/events/filter", body)
        resp.raise_for_status()
        found: list[dict[str, Any]] = resp.json()["events"]
        return found

    hits = _wait("watchlist hit events", lambda: events("marsad.watchlist.hit"), 60)
    hit = hits[0]
    assert hit["resource"]["prefect.resource.id"].startswith("marsad.entity.")
    assert hit["payload"]["source"] == "marsad-demo" and hit["payload"]["url"].startswith("http")
    bursts = _wait("burst events", lambda: events("marsad.entity.burst"), 60)
    assert all(b["payload"]["recent"] >= 2 for b in bursts)

    # a crashed run (its process killed) can be retried from the UI and completes
    crash = _custom_run(api, monitor["id"], {}).json()["id"]  # the deployment's settings
    run = httpx.get(f"{api}/flow_runs/{crash}", timeout=60).json()
    assert run["parameters"]["settings"] == {**FAST, "max_run_seconds": 2880.0}
    _wait("the run to start", lambda: _state(api, crash) == "RUNNING", 120, proc)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "the served flow run should run in a child process"
    for child in children:
        child.kill()
    assert _wait_final(api, crash, proc) == "CRASHED"
    retry = _post(
        api,
        f"/flow_runs/{crash}/set_state",
        {"state": {"type": "SCHEDULED", "name": "AwaitingRetry"}, "force": True},
    )
    assert retry.status_code in (200, 201), retry.text
    assert _wait_final(api, crash, proc) == "COMPLETED"
    df = pl.scan_parquet(f"{out}/articles/**/*.parquet", hive_partitioning=True).collect()
    assert df.height == 6  # the retried run found everything stored already


def test_prefect_deploy_registers_worker_deployments(prefect_server: str, tmp_path: Path) -> None:
    env = _env(
        prefect_server,
        MARSAD_CHECKOUT=str(REPO),
        MARSAD_SOURCES=str(REPO / "seeds" / "sources.yaml"),
        MARSAD_OUT=str(tmp_path / "out"),
    )
    prefect = [sys.executable, "-m", "prefect", "--no-prompt"]
    subprocess.run(
        [*prefect, "work-pool", "create", "marsad", "--type", "process", "--overwrite"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    done = subprocess.run(
        [*prefect, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    deps = _deployments(prefect_server)
    wires = deps["monitor-wires"]
    assert wires["work_pool_name"] == "marsad"
    assert wires["entrypoint"] == "flows/monitor.py:monitor"
    (sched,) = wires["schedules"]
    assert sched["schedule"]["cron"] == "*/15 * * * *"
    assert sched["schedule"]["timezone"] == "Asia/Riyadh"
    assert wires["global_concurrency_limit"]["limit"] == 1
    assert wires["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert wires["parameters"] == {
        "sources": env["MARSAD_SOURCES"],
        "out": env["MARSAD_OUT"],
        "allow_private_networks": False,
        "group": "wires",
        "settings": {"max_run_seconds": 720},  # 80% of 15 minutes, as marsad serve sets it
    }
    assert deps["monitor-default"]["schedules"][0]["schedule"]["cron"] == "0 * * * *"
    assert deps["monitor-default"]["parameters"]["settings"] == {"max_run_seconds": 2880}
    assert {"backfill", "reprocess", "retry-failures"} <= set(deps)
    assert deps["reprocess"]["work_pool_name"] == "marsad"
    ingest = deps["ingest"]  # WARC backfill: on demand, the files asked for in the UI's form
    check_ingest(ingest)
    assert ingest["parameters"] == {"out": env["MARSAD_OUT"]}
    assert ingest["entrypoint"] == "flows/ingest.py:ingest"
    assert ingest["work_pool_name"] == "marsad"
    # daily compaction and retention, as marsad serve schedules them
    for name, cron, params in (
        ("compact", "30 2 * * *", {"out": env["MARSAD_OUT"]}),
        ("cleanup", "45 2 * * *", {"older_than_days": 30}),
        ("report", "0 3 * * *", {"out": env["MARSAD_OUT"], "days": 7}),
    ):
        (sched,) = deps[name]["schedules"]
        assert sched["schedule"]["cron"] == cron, name
        assert deps[name]["parameters"] == params
        assert deps[name]["global_concurrency_limit"]["limit"] == 1


def test_group_schedules_defaults_overrides_and_errors() -> None:
    from marsad.serve import ServeError, group_schedules, parse_schedule
    from marsad.sources import parse_sources

    srcs = parse_sources(
        "sources:\n"
        "  - {name: wire, feeds: ['https://a.example/rss'], group: wires}\n"
        "  - {name: daily, feeds: ['https://b.example/rss']}\n"
    )
    default = group_schedules(srcs, {}, "Asia/Riyadh")
    assert [(s.group, s.cron, s.timezone) for s in default] == [
        ("default", "0 * * * *", "Asia/Riyadh"),
        ("wires", "*/15 * * * *", "Asia/Riyadh"),
    ]
    over = parse_schedule("wires=*/5 * * * *@Africa/Cairo", "UTC")
    assert group_schedules(srcs, {"wires": over}, "UTC")[1] == over
    with pytest.raises(ServeError, match="invalid cron"):
        parse_schedule("wires=every minute", "UTC")
    with pytest.raises(ServeError, match="unknown timezone 'Mars/Base'"):
        parse_schedule("wires=* * * * *@Mars/Base", "UTC")
    with pytest.raises(ServeError, match="GROUP=CRON"):
        parse_schedule("*/5 * * * *", "UTC")
    with pytest.raises(ServeError, match=r"not in the sources file: \['sports'\]"):
        group_schedules(srcs, {"sports": parse_schedule("sports=* * * * *", "UTC")}, "UTC")


def test_serve_refuses_bad_options_before_starting_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from marsad.cli import main

    assert main(["serve", "--sources", str(tmp_path / "none.yaml"), "--out", str(tmp_path)]) == 2
    src = tmp_path / "s.yaml"
    src.write_text("sources:\n  - {name: a, feeds: ['https://a.example/rss']}\n", "utf-8")
    args = ["serve", "--sources", str(src), "--out", str(tmp_path), "--timezone", "Nowhere/X"]
    assert main(args) == 2
    bad = tmp_path / "settings.yaml"
    bad.write_text("workers: 2\nrunner: yarn\n", encoding="utf-8")
    assert (
        main(["serve", "--sources", str(src), "--out", str(tmp_path), "--settings", str(bad)]) == 2
    )
    assert f"marsad: error: {bad}:2: key 'runner'" in capsys.readouterr().err
    assert not (tmp_path / ".prefect").exists()  # no server was started


def test_settings_file_becomes_every_deployments_settings_parameter(tmp_path: Path) -> None:
    from marsad.serve import GroupSchedule, build_deployments
    from marsad.settings import load_settings

    (tmp_path / "wl.yaml").write_text(
        "entities:\n  - {id: test-baghdad, type: LOC, name: Baghdad, ar: [بغداد]}\n", "utf-8"
    )
    path = tmp_path / "settings.yaml"
    path.write_text("batch_size: 7\nallow_private_networks: true\nwatchlist: wl.yaml\n", "utf-8")
    sched = [GroupSchedule("wires", "*/15 * * * *", "UTC")]
    budget = {"max_run_seconds": 720.0}  # 80% of the wires' 15 minutes
    deps = {d.name: d.parameters for d in build_deployments("s", "o", False, sched)}
    # no file: the flows' defaults, but for the monitors' time budget
    assert {n: p["settings"] for n, p in deps.items() if "settings" in p} == {
        "monitor-wires": budget
    }
    deps = {
        d.name: d.parameters for d in build_deployments("s", "o", False, sched, load_settings(path))
    }
    want = {
        "batch_size": 7,
        "allow_private_networks": True,  # as the file says; the flow's run_settings merges
        "watchlist": str((tmp_path / "wl.yaml").resolve()),
    }
    assert {name: p["settings"] for name, p in deps.items() if "settings" in p} == {
        "monitor-wires": {**want, **budget},
        **dict.fromkeys(["backfill", "reprocess", "retry-failures", "ingest"], want),
    }
    # the CLI flag stays the flows' own parameter, not folded into the settings
    assert deps["monitor-wires"]["allow_private_networks"] is False
    assert deps["retry-failures"]["allow_private_networks"] is False
