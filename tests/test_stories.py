"""Stories end to end: monitor runs over real loopback HTTP give articles of several outlets
about one event one story_id, a later run attaches to it, another event stays apart,
re-processing keeps story_id; read back with polars and DuckDB; `marsad stories` prints it."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import duckdb
import polars as pl
import pytest

from marsad.cli import main
from marsad.record import Article
from marsad.schema import ARTICLES, STORIES, description, type_name
from marsad.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FAST = Settings(
    allow_private_networks=True, per_host_delay_s=0.0, backoff_base_s=0.01, batch_size=2
)

# Two events told in different words by different outlets, and one article of another event.
QUAKE_LEAD = (
    "ضرب زلزال بقوة ست درجات ونصف مدينة أزمير التركية فجر اليوم وأدى إلى انهيار عدد من "
    "المباني السكنية في وسط المدينة، وقالت هيئة إدارة الكوارث التركية إن فرق الإنقاذ تعمل "
    "على انتشال العالقين تحت الأنقاض."
)
QUAKE_MORE = (
    "وأعلن وزير الصحة التركي أن المستشفيات في أزمير استقبلت مئات المصابين، فيما شعر سكان "
    "الجزر اليونانية القريبة بالهزة. وذكرت هيئة إدارة الكوارث أن عدد القتلى ارتفع إلى اثني "
    "عشر شخصا وأن الهزات الارتدادية تواصلت طوال الليل في أزمير وما حولها."
)
TALKS_LEAD = (
    "استقبل الرئيس المصري في القاهرة وزير الخارجية العراقي فؤاد حسين وبحث معه العلاقات "
    "الثنائية بين مصر والعراق وسبل تعزيز التعاون الاقتصادي في مجالات الطاقة والنقل والتجارة."
)
TALKS_MORE = (
    "وقال المتحدث باسم الرئاسة المصرية إن اللقاء تناول مشروع الربط الكهربائي بين البلدين "
    "وخطط زيادة التبادل التجاري، وأكد فؤاد حسين حرص بغداد على توسيع الشراكة مع القاهرة."
)


@dataclass(frozen=True)
class Page:
    outlet: str
    slug: str
    title: str
    published: datetime
    paragraphs: tuple[str, ...]


def page_html(p: Page, base: str) -> str:
    body = "\n".join(f"<p>{escape(t)}</p>" for t in p.paragraphs)
    return (
        '<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">'
        f'<link rel="canonical" href="{base}/{p.outlet}/{p.slug}.html">'
        f'<meta property="article:published_time" content="{p.published.isoformat()}">'
        f"<title>{escape(p.title)}</title></head><body><article><h1>{escape(p.title)}</h1>"
        f"{body}</article></body></html>"
    )


def feed_xml(pages: list[Page], base: str) -> str:
    items = "".join(
        f"<item><title>{escape(p.title)}</title><link>{base}/{p.outlet}/{p.slug}.html</link>"
        f"<pubDate>{p.published:%a, %d %b %Y %H:%M:%S} GMT</pubDate></item>"
        for p in pages
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>feed</title><link>{base}/</link>{items}</channel></rss>"
    )


def publish(root: Path, base: str, pages: list[Page]) -> Path:
    """Write the pages and one feed per outlet (all its pages so far); the sources file."""
    by_outlet: dict[str, list[Page]] = {}
    for p in pages:
        by_outlet.setdefault(p.outlet, []).append(p)
        (root / p.outlet).mkdir(parents=True, exist_ok=True)
        (root / p.outlet / f"{p.slug}.html").write_text(page_html(p, base), encoding="utf-8")
    lines = ["sources:"]
    for outlet, items in sorted(by_outlet.items()):
        (root / outlet / "feed.xml").write_text(feed_xml(items, base), encoding="utf-8")
        lines += [f"  - name: {outlet}", f"    feeds: [{base}/{outlet}/feed.xml]"]
    sources = root / "sources.yaml"
    sources.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sources


def day(d: int, h: int) -> datetime:
    return datetime(2026, 11, d, h, tzinfo=UTC)


QUAKE_1 = Page(
    "akhbar",
    "quake",
    "زلزال بقوة ست درجات ونصف يضرب أزمير التركية ويهدم مباني",
    day(20, 6),
    (QUAKE_LEAD, QUAKE_MORE),
)
QUAKE_2 = Page(
    "sahifa",
    "izmir",
    "انهيار مبان في أزمير بعد زلزال قوي والإنقاذ يبحث عن العالقين",
    day(20, 9),
    (QUAKE_LEAD.replace("فجر اليوم", "صباح اليوم"), QUAKE_MORE),
)
TALKS = Page(
    "akhbar",
    "talks",
    "الرئيس المصري يستقبل فؤاد حسين في القاهرة",
    day(20, 10),
    (TALKS_LEAD, TALKS_MORE),
)
QUAKE_3 = Page(  # the next day, a third outlet: attaches to the story
    "wakala",
    "izmir-toll",
    "ارتفاع عدد قتلى زلزال أزمير التركية إلى اثني عشر",
    day(21, 8),
    (QUAKE_MORE, QUAKE_LEAD.replace("فجر اليوم", "أمس")),
)


def scan(out: Path, dataset: str) -> pl.DataFrame:
    return pl.scan_parquet(f"{out}/{dataset}/**/*.parquet", hive_partitioning=True).collect()


def story_of(arts: pl.DataFrame, title: str) -> str:
    sid = arts.filter(pl.col("title") == title)["story_id"]
    assert sid.len() == 1, title
    return str(sid[0])


def recent(pages: list[Page]) -> list[Page]:
    """The pages moved so that the first is 30 hours old: all in the story window now."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    delta = now - timedelta(hours=30) - QUAKE_1.published
    return [replace(p, published=p.published + delta) for p in pages]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_runs_over_http_group_attach_and_keep_story_ids(tmp_path: Path) -> None:
    from demorun import _artifact

    from marsad.demo import serve_directory
    from marsad.flows.monitor import monitor

    q1, q2, talks_page, q3 = recent([QUAKE_1, QUAKE_2, TALKS, QUAKE_3])
    site, out = tmp_path / "site", tmp_path / "out"
    site.mkdir()
    with serve_directory(site) as base:
        sources = publish(site, base, [q1, q2, talks_page])
        monitor(sources=str(sources), out=str(out), allow_private_networks=True, settings=FAST)
        first = scan(out, "articles")
        assert first.height == 3 and first["story_id"].null_count() == 0
        quake = story_of(first, q1.title)
        assert story_of(first, q2.title) == quake  # two outlets, one event
        talks = story_of(first, talks_page.title)
        assert talks != quake  # another event stays apart

        sources = publish(site, base, [q1, q2, talks_page, q3])
        result = monitor(
            sources=str(sources), out=str(out), allow_private_networks=True, settings=FAST
        )
    arts = scan(out, "articles")
    assert arts.height == 4
    assert story_of(arts, q3.title) == quake  # a later run attaches
    assert {story_of(arts, p.title) for p in (q1, q2, talks_page)} == {quake, talks}

    stories = scan(out, "stories")
    assert stories["story_id"].n_unique() == stories.height == 2
    row = stories.filter(pl.col("story_id") == quake).row(0, named=True)
    assert row["n_articles"] == 3 and row["n_sources"] == 3 and row["merged_into"] is None
    assert row["sources"] == ["akhbar", "sahifa", "wakala"]
    assert row["first_seen"] == q1.published and row["last_seen"] == q3.published
    assert row["title"] == q1.title
    assert any(e["name"] and "أزمير" in e["name"] for e in row["entities"])
    assert row["date"] == q1.published.date()  # the first article's day, for good

    # DuckDB: every article's story has exactly one row
    con = duckdb.connect()
    dangling = con.execute(
        f"SELECT count(*) FROM read_parquet('{out}/articles/*/*.parquet') a "
        f"ANTI JOIN read_parquet('{out}/stories/*/*.parquet') s USING (story_id)"
    ).fetchone()
    per_story = con.execute(
        f"SELECT s.n_articles, count(a.article_id) FROM read_parquet('{out}/stories/*/*.parquet')"
        f" s JOIN read_parquet('{out}/articles/*/*.parquet') a USING (story_id) GROUP BY ALL"
        " ORDER BY 1"
    ).fetchall()
    assert dangling == (0,) and per_story == [(1, 1), (3, 3)]

    # the run's artifact: the quake first, with its three outlets
    md = _artifact(str(result["run_id"]), "run-stories")
    table = [line for line in md.splitlines() if line.startswith("| ")][1:]
    assert len(table) == 2 and q1.title in table[0] and "akhbar، sahifa، wakala | 3 |" in table[0]


def test_artifact_escapes_headlines(tmp_path: Path) -> None:
    from storefactory import article

    from marsad.stories_artifact import top_stories_markdown
    from marsad.writer import Writer

    evil = "<script>alert(1)</script> | [x](http://evil.test) خبر"
    art = article(1, title=evil, day=None, fetched=datetime.now(UTC) - timedelta(hours=1))
    Writer(tmp_path).store([art], [], "r1", 0)
    md = top_stories_markdown(tmp_path)
    row = md.splitlines()[-1]
    assert "<script" not in row and "&lt;script&gt;" in row and "\\[x\\]" in row
    assert row.count(" | ") == 5 and '<div dir="rtl">' in row  # one cell; Arabic: RTL
    later = datetime.now(UTC) + timedelta(days=10)
    assert top_stories_markdown(tmp_path, now=later).startswith("No stories in the last 72")


def test_reprocessing_keeps_story_id(tmp_path: Path) -> None:
    """Re-processing (replace) writes the stored story_id again and does not count twice."""
    from marsad.writer import Writer

    arts = [stored_article(p) for p in (QUAKE_1, QUAKE_2, TALKS)]
    Writer(tmp_path).store(arts, [], "r1", 0)
    before = scan(tmp_path, "articles").select("article_id", "story_id").sort("article_id")
    # A fresh process (new Writer) re-processes an article that now says it was published
    # ten days later, in another partition: matched afresh it would open a story of its own.
    moved = Page(QUAKE_2.outlet, QUAKE_2.slug, QUAKE_2.title, day(30, 8), QUAKE_2.paragraphs)
    Writer(tmp_path).store([stored_article(moved)], [], "r2", 0, replace=True)
    after = scan(tmp_path, "articles").select("article_id", "story_id").sort("article_id")
    assert after.equals(before)
    assert scan(tmp_path, "articles")["date"].max().isoformat() == "2026-11-30"
    stories = scan(tmp_path, "stories").sort("n_articles")
    assert stories["n_articles"].to_list() == [1, 2]  # not counted twice


def stored_article(p: Page, extra: str = "", run_id: str = "r1") -> Article:
    """The Article the pipeline's own stages make of `p` (extract, normalise, tag)."""
    from marsad.process import process_batch

    base = "http://news.test"
    page = Page(p.outlet, p.slug, p.title, p.published, (*p.paragraphs, extra))
    url = f"{base}/{p.outlet}/{p.slug}.html"
    raw = Article(url, p.outlet, day(29, 8), html=page_html(page, base), final_url=url)
    raw.run_id = run_id
    done, failed = process_batch([raw], FAST)
    assert not failed and len(done) == 1
    return done[0]


def test_cli_prints_the_biggest_stories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from marsad.writer import Writer

    Writer(tmp_path).store([stored_article(p) for p in (QUAKE_1, QUAKE_2, TALKS)], [], "r1", 0)
    Writer(tmp_path).store([stored_article(QUAKE_3)], [], "r2", 0)
    assert main(["stories", "--out", str(tmp_path), "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["#", "articles", "outlets"]
    assert lines[1].split()[:3] == ["1", "3", "3"] and lines[1].endswith(QUAKE_1.title)
    assert lines[2] == "    outlets: akhbar، sahifa، wakala"
    assert lines[3:] == [f"    - {p.title}" for p in (QUAKE_1, QUAKE_2, QUAKE_3)]
    # --since counts only the period's articles; --json gives one object per story
    assert main(["stories", "--out", str(tmp_path), "--since", "2026-11-21", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["articles"], r["sources"], r["title"]) for r in rows] == [
        (1, ["wakala"], QUAKE_1.title)
    ]
    assert main(["stories", "--out", str(tmp_path), "--since", "2026-12-01"]) == 1
    assert "no stories" in capsys.readouterr().err
    assert main(["stories", "--out", str(tmp_path), "--since", "yesterday"]) == 2


def test_docs_describe_the_stories_dataset() -> None:
    doc = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    start = doc.index("### stories\n")
    rows = []
    for line in doc[start:].splitlines()[1:]:
        if line.startswith("|"):
            if not set(line) <= set("|- "):
                rows.append([c.strip() for c in line.strip("|").split(" | ")])
        elif rows:
            break
    want = [
        [f.name, type_name(f.type), "yes" if f.nullable else "no", description(f)] for f in STORIES
    ]
    assert rows[1:] == want
    assert "story_id" in ARTICLES.names
