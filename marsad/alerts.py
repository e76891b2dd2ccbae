"""Alerts as Prefect events: watchlist hits, and bursts of mentions above an entity's baseline.

marsad only emits events; what happens next (mail, Slack, a webhook) is a Prefect
automation that an operator wires in the UI or in code (docs/operations.md).
Event names: `marsad.watchlist.hit` and `marsad.entity.burst`; the resource id is
`marsad.entity.<entity_id>` (or `marsad.entity.<label>:<normalised form>` when unlinked).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from marsad.dataset import read_dataset

WATCHLIST_EVENT = "marsad.watchlist.hit"
BURST_EVENT = "marsad.entity.burst"


class BurstRule(BaseModel):
    """When a mention count counts as a burst; a flow parameter, so the UI shows a form."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Look for bursts at the end of each run.")
    window_hours: float = Field(
        default=6.0, gt=0, description="Recent window: mentions in the last N hours."
    )
    baseline_days: float = Field(
        default=7.0, gt=0, description="Baseline: the mention rate over the N days before."
    )
    factor: float = Field(
        default=4.0, gt=1, description="Burst when recent+1 >= factor × (expected+1)."
    )
    min_mentions: int = Field(
        default=5, ge=1, description="Never call fewer recent mentions than this a burst."
    )
    max_events: int = Field(default=20, ge=0, description="Emit at most this many burst events.")


@dataclass(frozen=True, slots=True)
class Burst:
    key: str  # entity_id, or "<label>:<norm>" for unlinked mentions
    name: str
    recent: int
    expected: float

    @property
    def ratio(self) -> float:
        return (self.recent + 1) / (self.expected + 1)


def find_bursts(
    recent: Mapping[str, int],
    baseline: Mapping[str, int],
    rule: BurstRule,
    names: Mapping[str, str] | None = None,
) -> list[Burst]:
    """Entities whose recent count is far above what the baseline rate predicts, worst first.

    The +1 on both sides keeps a brand-new entity from bursting on a couple of mentions,
    which `min_mentions` also guards.
    """
    windows = rule.baseline_days * 24 / rule.window_hours
    out = []
    for key, n in recent.items():
        expected = baseline.get(key, 0) / windows
        if n >= rule.min_mentions and (n + 1) >= rule.factor * (expected + 1):
            out.append(Burst(key, (names or {}).get(key, key), n, expected))
    out.sort(key=lambda b: (-b.ratio, b.key))
    return out


_COUNTS_SQL = """
with m as (
    select coalesce(e.entity_id, e.label || ':' || e.norm) as key,
           any_value(coalesce(e.name, e.text))
               over (partition by coalesce(e.entity_id, e.label || ':' || e.norm)) as name,
           coalesce(a.published_at, a.fetched_at) as ts
    from (select unnest(entities) as e, published_at, fetched_at
          from articles) a
)
select key, any_value(name),
       count(*) filter (where ts >= ? and ts < ?) as recent,
       count(*) filter (where ts >= ? and ts < ?) as base
from m group by key
"""


def mention_counts(
    out: str | Path, now: datetime, rule: BurstRule
) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
    """Recent and baseline mention counts per entity from DIR/articles (DuckDB over the
    partitions of the window only, read through `dataset.resolve`: any output URI works)."""
    import duckdb

    split = now - timedelta(hours=rule.window_hours)
    start = split - timedelta(days=rule.baseline_days)
    # A partition's date is the publication date; a day of slack keeps late-dated rows in.
    first_day = (start - timedelta(days=1)).date()
    articles = read_dataset(out, "articles", ["entities", "published_at", "fetched_at"], first_day)
    if articles.num_rows == 0:
        return {}, {}, {}
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.register("articles", articles)
        rows = con.execute(_COUNTS_SQL, [split, now, start, split]).fetchall()
    finally:
        con.close()
    recent = {k: int(r) for k, _n, r, _b in rows if r}
    base = {k: int(b) for k, _n, _r, b in rows if b}
    names = {k: n for k, n, _r, _b in rows}
    return recent, base, names


def _resource(key: str, name: str) -> dict[str, str]:
    return {"prefect.resource.id": f"marsad.entity.{key}", "prefect.resource.name": name}


def emit_watchlist_hits(hits: Iterable[Mapping[str, str]]) -> int:
    """One `marsad.watchlist.hit` event per (entity, article); returns how many were emitted.

    The payload is the hit as `RunSummary.add_entities` makes it: entity_id, `name` (the
    watchlist's Arabic name) and `name_en`, the mention as written, label, source, title, url
    and article_id."""
    from prefect.events import emit_event

    n = 0
    for h in hits:
        emit_event(
            event=WATCHLIST_EVENT,
            resource=_resource(h["entity_id"], h["mention"]),
            payload=dict(h),
        )
        n += 1
    return n


def emit_bursts(bursts: Iterable[Burst], rule: BurstRule) -> int:
    from prefect.events import emit_event

    n = 0
    for b in list(bursts)[: rule.max_events]:
        emit_event(
            event=BURST_EVENT,
            resource=_resource(b.key, b.name),
            payload={
                "name": b.name,
                "recent": b.recent,
                "expected": round(b.expected, 3),
                "ratio": round(b.ratio, 2),
                "window_hours": rule.window_hours,
                "baseline_days": rule.baseline_days,
            },
        )
        n += 1
    return n
