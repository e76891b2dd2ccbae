"""Burst detection and watchlist hits: the pure rules, and the counts read back from Parquet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from marsad.alerts import BurstRule, find_bursts, mention_counts
from marsad.record import Article, Entity
from marsad.summary import RunSummary
from marsad.urls import article_id_for

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _article(n: int, at: datetime, entities: list[tuple[str, str, str | None]]) -> Article:
    text = " ".join(t for t, _l, _i in entities) or "نص"
    ents, pos = [], 0
    for surface, label, eid in entities:
        start = text.index(surface, pos)
        ents.append(Entity(surface, surface, label, start, start + len(surface), eid))
        pos = start + len(surface)
    url = f"http://news.example/a/{n}"
    return Article(
        url=url,
        source="example",
        fetched_at=at,
        canonical_url=url,
        article_id=article_id_for(url),
        title=f"خبر {n}",
        published_at=at,
        language="ar",
        text=text,
        text_norm=text,
        entities=ents,
        run_id="r1",
    )


def test_find_bursts_compares_with_the_baseline_rate() -> None:
    rule = BurstRule()  # 6 h window, 7 day baseline = 28 windows, factor 4, at least 5
    windows = 7 * 24 / 6
    recent = {"new": 10, "usual": 10, "rare": 3, "doubled": 40}
    baseline = {"usual": int(10 * windows), "doubled": int(20 * windows)}
    found = find_bursts(recent, baseline, rule, {"new": "جديد"})
    assert [b.key for b in found] == ["new"]  # usual is usual, rare too few, doubled only 2x
    assert found[0].name == "جديد" and found[0].expected == 0
    assert found[0].ratio == pytest.approx(11.0)
    loose = find_bursts(recent, baseline, rule.model_copy(update={"factor": 1.5}))
    assert [b.key for b in loose] == ["new", "doubled"]


def test_burst_rule_is_validated() -> None:
    with pytest.raises(ValidationError, match="factor"):
        BurstRule(factor=1.0)
    with pytest.raises(ValidationError, match="window_hours"):
        BurstRule(window_hours=0)


def test_mention_counts_from_the_stored_articles(tmp_path: Path) -> None:
    from marsad.store import store_articles

    rule = BurstRule(window_hours=6, baseline_days=7)
    arts = [
        _article(1, NOW - timedelta(hours=1), [("بغداد", "LOC", "Q1530"), ("زيد", "PERS", None)]),
        _article(2, NOW - timedelta(hours=5), [("بغداد", "LOC", "Q1530")]),
        _article(3, NOW - timedelta(days=3), [("بغداد", "LOC", "Q1530"), ("زيد", "PERS", None)]),
        _article(4, NOW - timedelta(days=30), [("بغداد", "LOC", "Q1530")]),  # outside
        _article(5, NOW + timedelta(hours=1), [("بغداد", "LOC", "Q1530")]),  # future: ignored
    ]
    store_articles(arts, set(), tmp_path, "r1", 0)
    recent, base, names = mention_counts(tmp_path, NOW, rule)
    assert recent == {"Q1530": 2, "PERS:زيد": 1}
    assert base == {"Q1530": 1, "PERS:زيد": 1}
    assert names["Q1530"] == "بغداد"
    assert mention_counts(tmp_path / "empty", NOW, rule) == ({}, {}, {})


def test_summary_collects_hits_once_per_article_and_entity() -> None:
    summary = RunSummary("r1")
    art = _article(
        1, NOW, [("بغداد", "LOC", "Q1530"), ("بغداد", "LOC", "Q1530"), ("زيد", "PERS", None)]
    )
    hits = summary.add_entities([art])
    assert [(h["entity_id"], h["mention"], h["url"]) for h in hits] == [("Q1530", "بغداد", art.url)]
    md = summary.markdown()
    assert "| بغداد | LOC | 2 |" in md and "| زيد | PERS | 1 |" in md
    assert "## Watchlist hits (1)" in md and art.url in md
    assert RunSummary("r2").markdown().count("No ") == 2
