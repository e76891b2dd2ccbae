"""`marsad serve`'s schedules: one cron per source group, and the time budget each run gets.

A monitor run should end before the next one of its group is due (a run still going when
the next fires makes the next one CANCELLED), so each group's runs get 80% of the gap
between two fire times of its cron as `settings.max_run_seconds`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marsad.settings import Settings
from marsad.sources import Source

DEFAULT_CRON = "0 * * * *"  # hourly
GROUP_CRONS = {"wires": "*/15 * * * *"}
COMPACT_CRON = "30 2 * * *"  # daily, in --timezone: one file per partition for yesterday's runs
REPORT_CRON = "0 3 * * *"  # daily: the last week's HTML report under DIR/reports
CLEANUP_CRON = "45 2 * * *"  # daily: flow runs older than `older_than_days` leave the database
BUDGET_SHARE = 0.8  # of a group's schedule interval, for settings.max_run_seconds
FIRE_TIMES_SAMPLED = 48


class ServeError(ValueError):
    """A `marsad serve` option or environment that cannot work; the message is for the user."""


@dataclass(frozen=True)
class GroupSchedule:
    group: str
    cron: str
    timezone: str


def parse_schedule(spec: str, default_tz: str) -> GroupSchedule:
    """`GROUP=CRON[@TIMEZONE]`, e.g. `wires=*/15 * * * *@Asia/Riyadh`."""
    group, sep, rest = spec.partition("=")
    if not sep or not group.strip() or not rest.strip():
        raise ServeError(f"--schedule {spec!r}: expected GROUP=CRON[@TIMEZONE]")
    cron, _, tz = rest.partition("@")
    return GroupSchedule(
        group.strip(), check_cron(cron.strip()), check_tz(tz.strip() or default_tz)
    )


def check_cron(cron: str) -> str:
    from prefect.schedules import Cron

    try:
        Cron(cron)  # validates the expression
    except ValueError as exc:
        raise ServeError(f"invalid cron {cron!r}: {exc}") from None
    return cron


def check_tz(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ServeError(
            f"unknown timezone {tz!r} (use an IANA name such as Asia/Riyadh)"
        ) from None
    return tz


def group_schedules(
    sources: list[Source], overrides: Mapping[str, GroupSchedule], default_tz: str
) -> list[GroupSchedule]:
    """One schedule per group in the sources file: an override, a known group's cron, or hourly."""
    unknown = sorted(set(overrides) - {s.group for s in sources})
    if unknown:
        raise ServeError(f"--schedule for groups not in the sources file: {unknown}")
    out = []
    for group in sorted({s.group for s in sources}):
        out.append(
            overrides.get(group)
            or GroupSchedule(group, GROUP_CRONS.get(group, DEFAULT_CRON), check_tz(default_tz))
        )
    return out


def schedule_interval_seconds(cron: str, tz: str, start: datetime | None = None) -> float:
    """The shortest gap between consecutive fire times of `cron` in `tz` after `start`.

    The dates come from the Prefect server's own cron schedule (the one that creates the
    runs), so DST and day-of-week rules match what will fire. The shortest gap of the next
    48 fire times: an irregular cron (`0 9,17 * * *`) gets the budget of its shorter gap.
    """
    from prefect.server.schemas.schedules import CronSchedule

    sched = CronSchedule(cron=cron, timezone=tz)
    dates = asyncio.run(sched.get_dates(n=FIRE_TIMES_SAMPLED, start=start or datetime.now(UTC)))
    gaps = [(b - a).total_seconds() for a, b in pairwise(dates)]
    positive = [g for g in gaps if g > 0]
    if not positive:
        raise ServeError(f"cron {cron!r} fires fewer than twice in {FIRE_TIMES_SAMPLED} tries")
    return float(min(positive))


def settings_parameter(settings: Settings | None, budget_s: float | None = None) -> dict[str, Any]:
    """A deployment's `settings` parameter: the fields a settings file set, as JSON, plus
    `max_run_seconds = budget_s` unless the file set it (none of either: no parameter, the
    flows' defaults). `allow_private_networks` rides along as the file says it; the flows'
    `run_settings` is where it meets the `allow_private_networks` parameter."""
    fields: dict[str, Any] = {}
    if settings is not None:
        fields = settings.model_dump(mode="json", exclude_unset=True)
    if budget_s is not None and "max_run_seconds" not in fields:
        fields["max_run_seconds"] = round(budget_s, 3)
    return {"settings": fields} if fields else {}


def run_budget(schedule: GroupSchedule) -> float:
    """`max_run_seconds` for a group's runs: BUDGET_SHARE of its schedule interval."""
    return BUDGET_SHARE * schedule_interval_seconds(schedule.cron, schedule.timezone)
