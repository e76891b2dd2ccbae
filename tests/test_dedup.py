"""Near-duplicate groups: wire copies and republications share `dup_group` across sources."""

from __future__ import annotations

import importlib.util
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from storefactory import article, body

from marsad.dedup import DayDupIndex, DupIndex, fold, title_key
from marsad.writer import Writer

BENCH = Path(__file__).resolve().parents[1] / "bench" / "dup_groups.py"
STORY = "قال وزير الخارجية فؤاد حسين في بغداد إن الحوار مع الحلف مستمر. " + body(7)


def test_fold_meets_spelling_variants() -> None:
    assert fold("أكّد الوزيـــر: «إنّ الأمم المتحدة»") == fold("اكد الوزير ان الامم المتحده")
    assert title_key("أخبار اليوم") is None  # a rubric, not a headline
    assert title_key("بغداد تنسّق مع «الناتو» لمحاربة «داعش»") == title_key(
        "بغداد تنسق مع الناتو لمحاربة داعش"
    )


def test_index_groups_copies_and_keeps_stories_apart() -> None:
    index = DupIndex()
    first = index.assign("a", "خبر أول", STORY)
    assert first == "a"
    wire = "(أ ف ب) - " + STORY + " تابعوا آخر الأخبار على تطبيقنا."
    assert index.assign("b", "عنوان آخر تماما للنسخة", wire) == "a"
    assert index.assign("c", "خبر ثالث", "الطقس " + body(8)) == "c"
    assert index.assign("d", "أخبار اليوم", body(9)) == "d"
    assert index.assign("e", "أخبار اليوم", body(10)) == "e"  # same rubric, other story
    # republished under the same headline, text rewritten
    assert index.assign("f", "الهلال يتوج بلقب دوري أبطال آسيا", body(11)) == "f"
    assert index.assign("g", "الهلال يتوج بلقب دوري أبطال آسيا", body(12)) == "f"
    assert index.assign("b", "x", "y") == "a"  # re-processing never moves an article


def test_day_index_compares_only_nearby_days_and_stays_bounded() -> None:
    index = DayDupIndex(window=timedelta(days=3), max_days=10)
    today = date(2026, 11, 29)
    assert index.assign("a", today, "خبر أول", STORY) == "a"
    assert index.assign("old", date(2019, 5, 1), "خبر قديم", body(5)) == "old"
    # the old article neither flushed today's index nor stretched the window over the years
    assert index.assign("b", today + timedelta(days=2), "عنوان النسخة", "(رويترز) " + STORY) == "a"
    assert index.assign("c", today + timedelta(days=9), "عنوان ثالث", "(واس) " + STORY) == "c"
    for k in range(20):
        index.assign(f"x{k}", today + timedelta(days=30 + k), "خبر", body(20 + k))
    dropped = index.trim()
    assert len(dropped) == 14 and date(2019, 5, 1) in dropped and today in dropped
    assert index.assign("d", today, "x", "(أ ف ب) " + STORY) == "d"  # today was forgotten


def test_store_assigns_groups_across_sources_and_runs(tmp_path: Path) -> None:
    Writer(tmp_path).store([article(1, source="wire", text=STORY)], [], "r1", 0)
    copies = [
        article(2, source="paper", text="(رويترز) " + STORY),
        article(3, source="tv", text="الطقس " + body(3)),
    ]
    Writer(tmp_path).store(copies, [], "r2", 0)  # a later run, a new process's writer
    df = pl.scan_parquet(f"{tmp_path}/articles/**/*.parquet", hive_partitioning=True).collect()
    groups = dict(zip(df["source"], df["dup_group"], strict=True))
    assert groups["wire"] == groups["paper"] == article(1, source="wire").article_id
    assert groups["tv"] == article(3, source="tv").article_id
    # re-processing the copy keeps its group
    redo = article(2, source="paper", text="(رويترز) " + STORY, run_id="r3")
    Writer(tmp_path).store([redo], [], "r3", 0, replace=True)
    df = pl.scan_parquet(f"{tmp_path}/articles/**/*.parquet", hive_partitioning=True).collect()
    assert df.filter(pl.col("source") == "paper")["dup_group"].to_list() == [groups["wire"]]


def test_labelled_set_precision() -> None:
    spec = importlib.util.spec_from_file_location("dup_groups", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.score(threshold=0.4, seed=1)
    assert result["items"] == 35
    assert result["precision"] >= 0.95, result["false_pairs"]
    assert result["recall"] >= 0.8, result["missed_pairs"]
