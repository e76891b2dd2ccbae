"""The `bursts` task: count recent mentions against the baseline and emit burst events."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from marsad.alerts import BurstRule, emit_bursts, find_bursts, mention_counts


@task(name="bursts", cache_policy=NO_CACHE)
def bursts_task(out: str, rule: BurstRule, now: datetime | None = None) -> tuple[int, int]:
    """(entities above their baseline, events emitted)."""
    recent, base, names = mention_counts(out, now or datetime.now(UTC), rule)
    found = find_bursts(recent, base, rule, names)
    return len(found), emit_bursts(found, rule)
