"""`marsad serve`'s schedules and time budgets, and the deployments it builds (no server)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from marsad.serve import GroupSchedule, build_deployments
from marsad.serve_deployments import differences
from marsad.serve_schedules import (
    CLEANUP_CRON,
    COMPACT_CRON,
    REPORT_CRON,
    ServeError,
    check_cron,
    run_budget,
    schedule_interval_seconds,
    settings_parameter,
)
from marsad.settings import Settings, load_settings

JAN = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "tz", "start", "seconds"),
    [
        ("*/15 * * * *", "UTC", JAN, 900),
        ("0 * * * *", "Asia/Riyadh", JAN, 3600),
        ("*/5 9-17 * * 1-5", "UTC", JAN, 300),  # office hours: the gap inside them
        ("0 9,17 * * *", "Africa/Cairo", JAN, 8 * 3600),  # irregular: the shorter gap
        ("30 2 * * *", "UTC", JAN, 86_400),
        # spring forward in New York (8 March 2026): that day is 23 hours long
        ("0 12 * * *", "America/New_York", datetime(2026, 3, 1, tzinfo=UTC), 23 * 3600),
    ],
)
def test_schedule_interval_is_the_shortest_gap_between_fire_times(
    cron: str, tz: str, start: datetime, seconds: float
) -> None:
    assert schedule_interval_seconds(cron, tz, start) == seconds


def test_a_rare_cron_gets_its_real_interval() -> None:
    assert schedule_interval_seconds("0 0 29 2 *", "UTC", JAN) == 1461 * 86_400  # leap days
    with pytest.raises(ServeError, match="invalid cron"):
        check_cron("61 * * * *")


def test_budget_is_80_percent_of_the_interval() -> None:
    assert run_budget(GroupSchedule("wires", "*/15 * * * *", "UTC")) == 720
    assert run_budget(GroupSchedule("default", "0 * * * *", "UTC")) == 2880


def test_settings_parameter_keeps_a_budget_the_file_set(tmp_path: Path) -> None:
    assert settings_parameter(None) == {}
    assert settings_parameter(None, 720.0) == {"settings": {"max_run_seconds": 720.0}}
    given = Settings.model_validate({"batch_size": 7, "max_run_seconds": 100})
    assert settings_parameter(given, 720.0) == {
        "settings": {"batch_size": 7, "max_run_seconds": 100.0}
    }
    unset = Settings.model_validate({"batch_size": 7})
    assert settings_parameter(unset, 720.0)["settings"]["max_run_seconds"] == 720.0
    # null in the file is a choice too: the caller's default, not serve's
    path = tmp_path / "s.yaml"
    path.write_text("max_run_seconds: null\n", "utf-8")
    assert settings_parameter(load_settings(path), 720.0) == {"settings": {"max_run_seconds": None}}


def test_build_deployments_budgets_compact_and_cleanup() -> None:
    sched = [
        GroupSchedule("wires", "*/15 * * * *", "UTC"),
        GroupSchedule("daily", "0 6 * * *", "Asia/Riyadh"),
    ]
    deps = {
        d.name: d for d in build_deployments("/s.yaml", "/o", False, sched, None, "Asia/Riyadh", 12)
    }
    assert set(deps) == {
        "monitor-wires",
        "monitor-daily",
        "backfill",
        "reprocess",
        "retry-failures",
        "compact",
        "cleanup",
        "report",
        "ingest",
    }
    assert deps["monitor-wires"].parameters["settings"] == {"max_run_seconds": 720.0}
    assert deps["monitor-daily"].parameters["settings"] == {"max_run_seconds": 69_120.0}
    assert "settings" not in deps["backfill"].parameters  # no file, no budget: the defaults
    ingest = deps["ingest"]  # on demand, for the configured sources only
    assert ingest.parameters == {"out": "/o", "sources": "/s.yaml"} and not ingest.schedules
    compact, cleanup = deps["compact"], deps["cleanup"]
    assert compact.parameters == {"out": "/o"}
    assert cleanup.parameters == {"older_than_days": 12}
    assert deps["report"].parameters == {"out": "/o", "days": 7}
    for dep, cron in (
        (compact, COMPACT_CRON),
        (cleanup, CLEANUP_CRON),
        (deps["report"], REPORT_CRON),
    ):
        (sched_,) = dep.schedules
        assert (sched_.schedule.cron, sched_.schedule.timezone) == (cron, "Asia/Riyadh")
        assert dep.concurrency_limit == 1


def test_ownership_compares_sources_and_out_only() -> None:
    ours = {"sources": "/a.yaml", "out": "/a", "group": "wires", "settings": {"batch_size": 2}}
    assert differences(ours, {**ours, "settings": {}, "group": "x"}) == []
    assert differences(ours, {**ours, "out": "/b"}) == [("out", "/b", "/a")]
    assert differences({"older_than_days": 30}, {"older_than_days": 7}) == []
