"""Stories under the writer's guarantees: merges, two writers at once, kill -9 between batches.

Readers look as a glob would (every visible Parquet file): never a story twice, never an
article whose story_id has no row, merges followed to a standing story.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from test_stories import QUAKE_1, QUAKE_2, TALKS, Page, day, scan, stored_article

from marsad.stories_view import load, survivors
from marsad.writer import Writer

TESTS = Path(__file__).resolve().parent


def consistent(out: Path) -> dict[str, int]:
    """What a reader sees now; asserts the invariants. Returns counts."""
    arts: list[tuple[str, str]] = []
    rows: list[tuple[str, str | None]] = []
    for p in sorted(out.glob("articles/date=*/*.parquet")):
        t = pq.read_table(p, columns=["article_id", "story_id"])
        arts += zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True)
    for p in sorted(out.glob("stories/date=*/*.parquet")):
        t = pq.read_table(p, columns=["story_id", "merged_into"])
        rows += zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True)
    ids = [a for a, _ in arts]
    sids = {s for s, _ in rows}
    assert len(ids) == len(set(ids)), "an article twice"
    assert len(rows) == len(sids), "a story twice"
    assert all(s in sids for _, s in arts), "an article's story_id points nowhere"
    assert all(m in sids for _, m in rows if m), "merged_into points nowhere"
    return {"articles": len(ids), "stories": len(rows)}


def test_merge_writes_merged_into_and_readers_follow_it(tmp_path: Path) -> None:
    w = Writer(tmp_path)
    w.store([stored_article(QUAKE_1)], [], "r1", 0)
    w.store([stored_article(TALKS)], [], "r2", 0)
    # one article with the quake's headline (a dup_group link) and the talks' text: it ties
    # the two stories, and the smaller, younger one is absorbed
    both = Page("wakala", "both", QUAKE_1.title, day(20, 12), TALKS.paragraphs)
    w.store([stored_article(both)], [], "r3", 0)
    arts = scan(tmp_path, "articles")
    quake = arts.filter(pl.col("source") == "akhbar", pl.col("title") == QUAKE_1.title)
    talks = arts.filter(pl.col("title") == TALKS.title)["story_id"][0]
    quake_id = quake["story_id"][0]
    assert talks != quake_id  # the article keeps the story_id it was written with
    stories = scan(tmp_path, "stories")
    gone = stories.filter(pl.col("story_id") == talks).row(0, named=True)
    kept = stories.filter(pl.col("story_id") == quake_id).row(0, named=True)
    assert gone["merged_into"] == quake_id and kept["merged_into"] is None
    assert kept["n_articles"] == 3 and kept["sources"] == ["akhbar", "wakala"]
    assert survivors(stories.select("story_id", "merged_into")) == {
        talks: quake_id,
        quake_id: quake_id,
    }
    top = load(tmp_path, None)
    assert top.height == 1 and top.row(0, named=True)["articles"] == 3
    # DuckDB, one hop: every article reaches the standing story
    con = duckdb.connect()
    got = con.execute(
        f"SELECT coalesce(s.merged_into, s.story_id) AS story, count(*) "
        f"FROM read_parquet('{tmp_path}/articles/*/*.parquet') a "
        f"JOIN read_parquet('{tmp_path}/stories/*/*.parquet') s USING (story_id) GROUP BY 1"
    ).fetchall()
    assert got == [(quake_id, 3)]
    # a restarted writer loads the merge: a later talks article joins the standing story
    later = Page("sahifa", "talks2", TALKS.title + " اليوم", day(21, 9), TALKS.paragraphs)
    Writer(tmp_path).store([stored_article(later)], [], "r4", 0)
    sid = scan(tmp_path, "articles").filter(pl.col("source") == "sahifa")["story_id"][0]
    assert sid in (quake_id, talks)
    assert consistent(tmp_path) == {"articles": 4, "stories": 2}


STORE_SCRIPT = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_stories import QUAKE_1, QUAKE_2, TALKS, stored_article
from marsad.writer import Writer
out, me = Path({out!r}), {me!r}
arts = [stored_article(p, run_id=me) for p in (QUAKE_1, QUAKE_2, TALKS)]
w = Writer(out)
(out.parent / ("ready-" + me)).touch()
while not (out.parent / "go").exists():
    time.sleep(0.005)
w.store(arts, [], me, 0)
"""


@pytest.mark.slow
def test_two_writers_storing_the_same_batch(tmp_path: Path) -> None:
    out = tmp_path / "out"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", STORE_SCRIPT.format(tests=str(TESTS), out=str(out), me=me)]
        )
        for me in ("p1", "p2")
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{m}").exists() for m in ("p1", "p2")):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.05)
    (tmp_path / "go").touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert consistent(out) == {"articles": 3, "stories": 2}
    arts = scan(out, "articles")
    assert set(arts["run_id"]).issubset({"p1", "p2"})
    by_title = dict(zip(arts["title"], arts["story_id"], strict=True))
    assert by_title[QUAKE_1.title] == by_title[QUAKE_2.title] != by_title[TALKS.title]
    assert sorted(scan(out, "stories")["n_articles"]) == [1, 2]


LOOP_SCRIPT = """
import random, sys
sys.path.insert(0, {tests!r})
from datetime import timedelta
from storefactory import article
from marsad.compact import compact
from marsad.writer import Writer
EVENTS = [
    "زلزال يضرب مدينة أزمير وانهيار مبان وفرق الإنقاذ تبحث عن العالقين تحت الأنقاض",
    "فيضانات في السودان تغمر قرى على ضفاف النيل وتشرد آلاف الأسر في الخرطوم",
    "انتخابات برلمانية في الأردن ونسبة المشاركة تتجاوز التوقعات في عمان",
    "افتتاح معرض الكتاب في الرياض بمشاركة مئات دور النشر العربية والأجنبية",
]
rng = random.Random({seed!r})
w = Writer({out!r})
open({out!r} + "-ready-{seed}", "w").close()
for seq in range(10_000):
    if rng.random() < 0.1:
        compact({out!r})
        continue
    replace = rng.random() < 0.3
    arts = []
    for i in rng.sample(range(40), 5):
        ev = EVENTS[i % 4]
        a = article(i, source=f"s{{i % 5}}", day=1 + i % 3, hour=i % 20, title=ev[:40] + f" {{i}}",
                    text=(ev + " ") * 3 + f"رقم {{i}}", entity_id=f"Q{{i % 4}}", run_id=f"k{{seq}}")
        if replace:
            a.published_at = a.published_at + timedelta(days=rng.choice([0, 5]))
        arts.append(a)
    w.store(arts, [], "k{seed}", seq, replace=replace)
"""


@pytest.mark.slow
def test_kill_9_between_batches_leaves_articles_and_stories_consistent(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rng = random.Random(15)
    seen = []
    for k in range(6):
        script = LOOP_SCRIPT.format(tests=str(TESTS), out=str(out), seed=k)
        proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
        ready, deadline = Path(f"{out}-ready-{k}"), time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(rng.uniform(0.3, 3.0))  # batches until killed, mid-write or between
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        seen.append(consistent(out))  # before any recovery: what a reader sees
    assert seen[-1]["articles"] > 0
    # the next writer recovers whatever the last kill interrupted, then stores all 40
    script = LOOP_SCRIPT.format(tests=str(TESTS), out=str(out), seed=99)
    script = script.replace("for seq in range(10_000):", "for seq in range(1):")
    script = script.replace("rng.sample(range(40), 5)", "range(40)").replace("< 0.1", "< 0")
    script = script.replace("< 0.3", "< 0")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    final = consistent(out)
    assert final["articles"] == 40
    stories = scan(out, "stories")
    standing = stories.filter(pl.col("merged_into").is_null())
    assert standing["n_articles"].sum() == 40  # every article counted once, in a standing story
    glob = f"{out}/stories/*/*.parquet"
    sql = f"SELECT count(*), count(DISTINCT story_id) FROM read_parquet('{glob}')"
    got = duckdb.connect().execute(sql).fetchone()
    assert got is not None and got[0] == got[1] == stories.height
