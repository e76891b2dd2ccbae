"""The writer's story memory follows the window, not the dataset's age (issue 15).

Weeks of daily batches: one story runs all along (its row stays in its first day's partition)
while short stories come and go. The writer's StoryBook must then hold no rows of stories far
outside the window, yet a new article still joins the long story, a backfill of an old day
still finds and updates the old stories' rows, and a restarted writer does the same.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
from storefactory import article
from test_stories import QUAKE_1, TALKS, Page, day, scan, stored_article
from test_stories_writer import consistent

from marsad.record import Article
from marsad.stories import StoryBook, spans_of
from marsad.writer import Writer

LONG_TITLE = "محادثات السلام في جنيف بين الوفدين تدخل يومها"
LONG_TEXT = (
    "تواصلت في جنيف محادثات السلام بين وفدي الحكومة والمعارضة برعاية المبعوث الأممي "
    "وقال المبعوث إن الجولة الحالية تناولت ملف المعتقلين ووقف إطلاق النار والمساعدات"
)
ALPHABET = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
DAYS = 24  # January 2026, one batch a day
FILLERS = 3  # short stories a day


def _words(seed: int, k: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(ALPHABET, k=rng.randint(4, 7))) for _ in range(k)]


def long_article(d: int, source: str = "s0", tag: str = "") -> Article:
    """The day's article of the story that runs all month."""
    return article(
        1000 + d,
        source=f"{source}{tag}",
        day=d,
        hour=9,
        title=f"{LONG_TITLE} {d}",
        text=f"{LONG_TEXT} في اليوم {d}.",
        entity_id="Q_GENEVA",
        run_id=f"d{d}",
    )


def filler(d: int, k: int, source: str | None = None) -> Article:
    """A one-day story of its own words and person (another outlet's copy with `source`)."""
    words = _words(100 * d + k, 40)
    title, text = " ".join(words[:8]), " ".join(words[:8] + words[8:])
    art = article(
        10_000 * (2 if source else 1) + 100 * d + k,
        source=source or f"s{k + 1}",
        day=d,
        hour=10 + k,
        title=title,
        text=text,
        entity_id=f"Q_{d}_{k}",
        run_id=f"d{d}",
    )
    if source:  # a shorter retelling of the same event
        art.text = art.text_norm = " ".join(words[:8] + words[8:30])
    return art


def run_month(out: Path) -> Writer:
    w = Writer(out)
    for d in range(1, DAYS + 1):
        w.store([long_article(d)] + [filler(d, k) for k in range(FILLERS)], [], f"d{d}", 0)
    return w


def at(d: int, h: int = 0) -> datetime:
    return datetime(2026, 1, d, h, tzinfo=UTC)


def stories_rows(out: Path) -> pl.DataFrame:
    rows = scan(out, "stories")
    assert rows.height == rows["story_id"].n_unique()
    return rows


def assert_bounded(book: StoryBook, out: Path, days: set[int]) -> None:
    """The book holds rows only of stories that meet the window around `days`."""
    spans = spans_of({at(d).date() for d in days}, book.window.days + 1)
    rows = stories_rows(out)
    meets = pl.any_horizontal(
        [(pl.col("last_seen") >= lo) & (pl.col("first_seen") < hi) for lo, hi in spans]
    )
    far = set(rows.filter(~meets)["story_id"])
    near = set(rows.filter(meets)["story_id"])
    held = set(book.rows_where())
    assert len(far) >= FILLERS * 10, "the month leaves many stories far outside the window"
    assert not held & far, "rows of stories outside the window are held"
    assert held <= near
    assert set(book.stored_merges()) <= held


def test_book_bounded_yet_joins_long_story_backfills_and_restarts(tmp_path: Path) -> None:
    w = run_month(tmp_path)
    arts = scan(tmp_path, "articles")
    long_id = arts.filter(pl.col("title") == f"{LONG_TITLE} 1")["story_id"][0]
    assert arts.filter(pl.col("title").str.starts_with(LONG_TITLE))[
        "story_id"
    ].unique().to_list() == [long_id]
    assert consistent(tmp_path) == {"articles": DAYS * 4, "stories": 1 + DAYS * FILLERS}
    assert_bounded(w._stories, tmp_path, {DAYS})
    assert long_id in w._stories.rows_where()
    # articles of old days are remembered only while their story is live
    old_known = {sid for d, sid in w._stories._known.values() if d < at(DAYS - 8).date()}
    assert old_known == {long_id}

    # (a) a new day's article joins the month-long story; its row, in the partition of the
    # story's first day, is rewritten there, not duplicated
    w.store([long_article(DAYS + 1, tag="late")], [], "a", 0)
    row = stories_rows(tmp_path).filter(pl.col("story_id") == long_id).row(0, named=True)
    assert row["n_articles"] == DAYS + 1 and row["last_seen"] == at(DAYS + 1, 9)
    assert row["sources"] == ["s0", "s0late"]
    held = list((tmp_path / "stories").glob("*/*.parquet"))
    where = [p.parent.name for p in held if long_id in pl.read_parquet(p)["story_id"].to_list()]
    assert where == ["date=2026-01-01"]

    # (b) a backfill of day 3: another outlet's account of a day-3 story joins it, and the
    # old row is found among the rows the book now holds (no lookup of the whole dataset)
    old = filler(3, 1)
    late = filler(3, 1, source="wakala")
    w.store([late], [], "b", 0)
    arts = scan(tmp_path, "articles")
    old_sid = arts.filter(pl.col("article_id") == old.article_id)["story_id"][0]
    assert arts.filter(pl.col("article_id") == late.article_id)["story_id"][0] == old_sid
    row = stories_rows(tmp_path).filter(pl.col("story_id") == old_sid).row(0, named=True)
    assert row["n_articles"] == 2 and row["sources"] == ["s2", "wakala"]
    assert w._stories.lookups == 0
    assert_bounded(w._stories, tmp_path, {3})

    # (c) a restarted writer: the long story still takes the next day, a backfill of day 5
    # still finds its story's row, and its book is as small
    w2 = Writer(tmp_path)
    w2.store([long_article(DAYS + 2, tag="next")], [], "c", 0)
    assert_bounded(w2._stories, tmp_path, {DAYS + 2})
    w2.store([filler(5, 0, source="sahifa")], [], "c", 1)
    assert_bounded(w2._stories, tmp_path, {5})
    assert w2._stories.lookups == 0
    assert consistent(tmp_path) == {"articles": DAYS * 4 + 4, "stories": 1 + DAYS * FILLERS}

    # read back with DuckDB: one row a story, every article's story there, and the counts
    glob = f"{tmp_path}/stories/*/*.parquet"
    con = duckdb.connect()
    got = con.execute(
        f"SELECT s.story_id, s.n_articles, count(*) FROM read_parquet('{glob}') s "
        f"JOIN read_parquet('{tmp_path}/articles/*/*.parquet') a USING (story_id) "
        "GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    f5 = scan(tmp_path, "articles").filter(pl.col("article_id") == filler(5, 0).article_id)
    assert got == [
        (long_id, DAYS + 2, DAYS + 2),
        *sorted([(old_sid, 2, 2), (f5["story_id"][0], 2, 2)]),
    ]


def test_story_outside_the_held_rows_is_looked_up_not_duplicated(tmp_path: Path) -> None:
    """Re-processing may move an article to a later day while it keeps its story, whose row
    then no longer spans it: the book does not hold that row, the writer finds it on disk."""
    w = run_month(tmp_path)
    moved = filler(2, 0)
    moved.published_at = at(DAYS, 15)  # re-processed: now dated three weeks later
    w.store([moved], [], "m", 0, replace=True)
    arts = scan(tmp_path, "articles")
    sid = arts.filter(pl.col("article_id") == moved.article_id)["story_id"][0]
    assert sid == moved.article_id  # kept the story it opened on day 2
    # another outlet's account, on the moved article's new day, joins that story
    copy = filler(2, 0, source="wakala")
    copy.published_at = at(DAYS, 16)
    w.store([copy], [], "m", 1)
    got = scan(tmp_path, "articles").filter(pl.col("article_id") == copy.article_id)
    assert got["story_id"][0] == sid
    assert w._stories.lookups >= 1
    row = stories_rows(tmp_path).filter(pl.col("story_id") == sid).row(0, named=True)
    assert row["n_articles"] == 2
    assert consistent(tmp_path)["stories"] == 1 + DAYS * FILLERS


def test_spans_of_days_being_written() -> None:
    """Each day ± reach, merged where they touch: a live day and a backfill stay apart."""
    d = at(20).date()
    assert spans_of({d, at(21).date()}, 4) == ((at(16), at(26)),)
    got = spans_of({d, at(2).date()}, 4)
    assert got == ((datetime(2025, 12, 29, tzinfo=UTC), at(7)), (at(16), at(25)))


def test_restart_follows_an_old_merge_in_a_backfill(tmp_path: Path) -> None:
    """A merge made on 20 November, then three weeks of other stories: a restarted writer's
    backfill of the 21st follows it to the standing story, and holds no rows of December."""
    w = Writer(tmp_path)
    w.store([stored_article(QUAKE_1)], [], "r1", 0)
    w.store([stored_article(TALKS)], [], "r2", 0)
    both = Page("wakala", "both", QUAKE_1.title, day(20, 12), TALKS.paragraphs)
    w.store([stored_article(both)], [], "r3", 0)
    for n in range(1, 21):  # 21 November to 10 December
        batch = [filler(n, k) for k in range(FILLERS)]
        for art in batch:
            art.published_at = day(20, 10 + batch.index(art)) + timedelta(days=n)
        w.store(batch, [], f"f{n}", 0)
    rows = stories_rows(tmp_path)
    gone = rows.filter(pl.col("merged_into").is_not_null()).row(0, named=True)
    keep = gone["merged_into"]
    w2 = Writer(tmp_path)
    later = Page("sahifa", "talks2", TALKS.title + " اليوم", day(21, 9), TALKS.paragraphs)
    w2.store([stored_article(later)], [], "r4", 0)
    book = w2._stories
    assert book.stored_merges() == {gone["story_id"]: keep}  # held: it meets the window
    assert book.lookups == 0
    spans = spans_of({day(21, 0).date()}, book.window.days + 1)
    far = set(rows.filter(pl.col("first_seen") >= spans[-1][1])["story_id"])
    assert len(far) >= FILLERS * 10 and not far & set(book.rows_where())
    sid = scan(tmp_path, "articles").filter(pl.col("source") == "sahifa")["story_id"][0]
    assert book.index.resolve(sid) == keep
    standing = stories_rows(tmp_path).filter(pl.col("story_id") == keep).row(0, named=True)
    assert standing["n_articles"] == 4 and "sahifa" in standing["sources"]
    assert consistent(tmp_path) == {"articles": 4 + 20 * FILLERS, "stories": 2 + 20 * FILLERS}
    con = duckdb.connect()
    got = con.execute(
        f"SELECT coalesce(s.merged_into, s.story_id), count(*) "
        f"FROM read_parquet('{tmp_path}/articles/*/*.parquet') a "
        f"JOIN read_parquet('{tmp_path}/stories/*/*.parquet') s USING (story_id) "
        "GROUP BY 1 HAVING count(*) > 1"
    ).fetchall()
    assert got == [(keep, 4)]
