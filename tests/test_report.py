"""`marsad report`: the figures on hand-written rows, hostile text escaped, old files read, the
CLI's exit codes, and the page from a demo run loaded in headless Chromium (offline)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from demorun import DemoRun, demo_run

from marsad import report
from marsad.cli import main
from marsad.report_html import days, render
from marsad.schema import ARTICLES, MENTIONS

D1, D2 = date(2026, 1, 3), date(2026, 1, 4)
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _mentions(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    cols = ["date", "article_id", "source", "text", "norm", "label", "entity_id", "name"]
    cols += ["name_en", "country"]
    return pl.DataFrame(rows, schema=cols, orient="row")


MENTIONS_ROWS = _mentions(
    [
        (
            D1,
            "a1",
            "s1",
            "وفؤاد حسين",
            "فءاد حسين",
            "PERS",
            "Q1",
            "فؤاد حسين",
            "Fuad Hussein",
            None,
        ),
        (D1, "a1", "s1", "فؤاد حسين", "فءاد حسين", "PERS", "Q1", "فؤاد حسين", "Fuad Hussein", None),
        (D2, "a2", "s2", "حسين", "حسين", "PERS", "Q1", "فؤاد حسين", "Fuad Hussein", None),
        (D1, "a1", "s1", "بغداد", "بغداد", "LOC", None, "بغداد", None, "IQ"),
        (D2, "a3", "s2", "وبغداد", "بغداد", "LOC", None, "بغداد", None, "IQ"),
        (D2, "a3", "s2", "السعودية", "السعوديه", "LOC", None, None, None, "SA"),
        (
            D2,
            "a3",
            "s2",
            "الأمم المتحدة",
            "الامم المتحده",
            "ORG",
            None,
            "الأمم المتحدة",
            None,
            None,
        ),
    ]
)
ARTICLE_ROWS = pl.DataFrame(
    {
        "date": [D1, D2, D2, D2],
        "article_id": ["a1", "a2", "a3", "a4"],
        "source": ["s1", "s2", "s2", "s1"],
        "title": ["خبر أول", "الخبر نفسه", "خبر آخر", "الخبر نفسه"],
        "published_at": [datetime(2026, 1, d, tzinfo=UTC) for d in (3, 4, 4, 4)],
        "dup_group": ["a1", "a2", "a3", "a2"],
        "story_id": ["a1", "a2", "a3", "a2"],
    }
).with_columns(fetched_at=pl.col("published_at"))
STORY_ROWS = pl.DataFrame(  # a1's story was absorbed by a3's; a2's stands alone
    {
        "story_id": ["a1", "a2", "a3"],
        "title": ["قصة أولى", "الخبر نفسه", "خبر آخر"],
        "merged_into": ["a3", None, None],
    }
)
FAILURE_ROWS = pl.DataFrame(
    {
        "date": [D1, D1, D2],
        "source": ["s1", "s1", "s2"],
        "stage": ["fetch"] * 3,
        "error": ["HTTP 404", "HTTP 404", "timeout"],
        "kind": ["article"] * 3,
    }
)


# --- the figures, on hand-written rows -----------------------------------------------------------


def test_top_entities_count_by_id_or_norm_and_show_names_never_norm() -> None:
    top = report.top_entities(MENTIONS_ROWS)
    rows = {(r["label"], r["name"]): (r["mentions"], r["articles"]) for r in top.to_dicts()}
    assert rows[("PERS", "فؤاد حسين")] == (3, 2)  # linked: one entity, whatever the surface
    assert rows[("LOC", "بغداد")] == (2, 2)
    assert rows[("LOC", "السعودية")] == (1, 1)  # no name (an old file): the surface text
    assert not set(top["name"]) & set(MENTIONS_ROWS["norm"]) - set(MENTIONS_ROWS["text"])
    assert top.filter(pl.col("label") == "LOC")["name"].to_list()[0] == "بغداد"  # most first


def test_watchlist_hits_are_one_row_per_entity_with_english_name() -> None:
    hits = report.watchlist_hits(MENTIONS_ROWS)
    assert hits.to_dicts() == [
        {
            "entity_id": "Q1",
            "name": "فؤاد حسين",
            "name_en": "Fuad Hussein",
            "mentions": 3,
            "articles": 2,
        }
    ]


def test_mentions_over_time_per_day_for_the_leaders() -> None:
    over = report.mentions_over_time(MENTIONS_ROWS, top=2)
    assert set(over["name"]) == {"فؤاد حسين", "بغداد"}
    fuad = over.filter(pl.col("name") == "فؤاد حسين").sort("date")
    assert fuad.select("date", "mentions").rows() == [(D1, 2), (D2, 1)]


def test_countries_sources_duplicates_and_failures() -> None:
    assert report.countries(MENTIONS_ROWS).select("country", "mentions").rows() == [
        ("IQ", 2),
        ("SA", 1),
    ]
    per_day = report.articles_per_source_day(ARTICLE_ROWS).rows()
    assert per_day == [(D1, "s1", 1), (D2, "s1", 1), (D2, "s2", 2)]
    dups = report.dup_groups(ARTICLE_ROWS)  # a1 and a3 are alone: not duplicates
    assert dups.select("dup_group", "title", "sources", "articles").rows() == [
        ("a2", "الخبر نفسه", "s1، s2", 2)
    ]
    fails = report.failures_by_reason(FAILURE_ROWS).rows()
    assert fails == [("s1", "HTTP 404", 2), ("s2", "timeout", 1)]


def test_days_from_options() -> None:
    stored = (D1, D2)
    assert days(stored, None, None, None) == (D1, D2)
    assert days(stored, None, "2026-01-04", None) == (D2, D2)
    assert days(stored, "7d", None, None, today=date(2026, 11, 30))[1] == date(2026, 11, 30)
    for bad in (("7x", None, None), ("7d", "2026-01-01", None), (None, "2026-01-05", None)):
        with pytest.raises(report.ReportError):
            days(stored, *bad)


def test_top_stories_follow_merges_and_count_outlets() -> None:
    top = report.top_stories(ARTICLE_ROWS, STORY_ROWS)
    assert top.rows() == [  # a tie (articles, outlets, last seen): by story_id
        ("الخبر نفسه", "s1، s2", 2, "2026-01-04 00:00", "2026-01-04 00:00"),
        ("خبر آخر", "s1، s2", 2, "2026-01-03 00:00", "2026-01-04 00:00"),  # a1 + a3, merged
    ]
    page = render(report.Frames(ARTICLE_ROWS, MENTIONS_ROWS, FAILURE_ROWS, STORY_ROWS), D1, D2)
    section = page.html.split('id="top-stories"')[1].split("</section>")[0]
    assert "أبرز القصص" in section and section.count("<tr>") == 3  # heading row + 2 stories
    assert section.index("الخبر نفسه") < section.index("خبر آخر")
    # files before version 5 (no story_id): an empty section, not an error
    old = report.top_stories(ARTICLE_ROWS.drop("story_id", "fetched_at"), STORY_ROWS.head(0))
    assert old.is_empty()


def test_hostile_text_is_escaped_everywhere() -> None:
    ments = MENTIONS_ROWS.with_columns(name=pl.lit(EVIL), text=pl.lit(EVIL))
    arts = ARTICLE_ROWS.with_columns(title=pl.lit(EVIL), source=pl.lit("s" + EVIL))
    arts = arts.with_columns(
        source=pl.when(pl.col("article_id") == "a4").then(pl.lit("z")).otherwise("source")
    )
    fails = FAILURE_ROWS.with_columns(error=pl.lit(EVIL), source=pl.lit(EVIL))
    stories = STORY_ROWS.with_columns(title=pl.lit(EVIL))
    page = render(report.Frames(arts, ments, fails, stories), D1, D2).html
    assert 'id="top-stories"><h2>أبرز القصص</h2><table>' in page  # the stories are shown
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;" in page  # shown, as text
    assert page.count("<svg") == 5


# --- files on disk: old versions, the CLI ---------------------------------------------------------


def _write(path: Path, schema: pa.Schema, rows: list[dict[str, object]], drop: set[str]) -> None:
    old = pa.schema([f for f in schema if f.name not in drop])
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=old), path)


def test_files_of_older_versions_make_a_report(tmp_path: Path, capsys) -> None:
    at = datetime(2026, 1, 3, 8, tzinfo=UTC)
    art = {"article_id": "a1", "url": "http://e.test/1", "source": "s", "title": "خبر"}
    art |= {"fetched_at": at, "published_at": at, "run_id": "r", "text": "فؤاد حسين"}
    _write(
        tmp_path / "articles/date=2026-01-03/part-r-00000.parquet",
        ARTICLES,
        [art],
        {"dup_group", "entities"},
    )
    ment = {"article_id": "a1", "source": "s", "published_at": at, "text": "وفؤاد حسين"}
    ment |= {"norm": "فءاد حسين", "label": "PERS", "entity_id": "Q1", "start": 0, "end": 10}
    _write(
        tmp_path / "mentions/date=2026-01-03/part-r-00000.parquet",
        MENTIONS,
        [ment],
        {"name", "name_en", "country", "lat", "lon"},
    )
    html = tmp_path / "r.html"
    assert main(["report", "--out", str(tmp_path), "--html", str(html)]) == 0
    page = html.read_text(encoding="utf-8")
    assert "وفؤاد حسين" in page and "فءاد" not in page
    assert "1 articles, 1 mentions, 0 failures, 2026-01-03 to 2026-01-03" in capsys.readouterr().out


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return demo_run(tmp_path_factory)


@pytest.fixture(scope="module")
def demo_report(demo: DemoRun) -> Path:
    assert main(["report", "--out", str(demo.out)]) == 0
    (path,) = (demo.out / "reports").glob("report-*.html")
    return path


@pytest.mark.slow
def test_cli_writes_the_default_file_and_exits_by_the_range(
    demo: DemoRun, demo_report: Path, capsys
) -> None:
    assert re.fullmatch(r"report-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.html", demo_report.name)
    page = demo_report.read_text(encoding="utf-8")
    stories = page.split('<section id="top-stories">')[1].split("</section>")[0]
    assert stories.count("<tr>") >= 2 and "marsad-demo" in stories  # a real run's stories
    capsys.readouterr()
    out = str(demo.out)
    assert main(["report", "--out", out, "--from", "1990-01-01", "--to", "1990-01-02"]) == 1
    assert "no articles" in capsys.readouterr().out
    assert main(["report", "--out", out, "--since", "7x"]) == 2
    assert main(["report", "--out", out, "--from", "2030-01-02", "--to", "2030-01-01"]) == 2
    assert main(["report", "--out", out, "--html", str(demo.root / "no" / "r.html")]) == 2
    assert "r.html" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["report", "--out", out, "--from", "yesterday"])
    assert exc.value.code == 2


# --- the page in a real browser ------------------------------------------------------------------


def chromium_command(*args: str) -> list[str]:
    """Headless Chromium, cut off from any network but loopback when `unshare` allows it."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium is not installed (.ci/run installs it where apt-get can)")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
    cmd += list(args)
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$@"', "sh", *cmd]
    return cmd


@pytest.mark.slow
def test_report_renders_in_headless_chromium_offline(demo_report: Path) -> None:
    cmd = chromium_command("--dump-dom", demo_report.as_uri())
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    dom, err = done.stdout, done.stderr
    assert done.returncode == 0, err[-2000:]
    assert "Uncaught" not in err and "ERROR:CONSOLE" not in err, err[-2000:]
    assert re.search(r'<html[^>]*\bdir="rtl"', dom) and re.search(r'<body[^>]*\bdir="rtl"', dom)
    assert "<script" not in dom
    sections = re.findall(r'<section id="([a-z-]+)">(.*?)</section>', dom, re.S)
    svgs = {name: re.findall(r"<svg\b[^>]*>", body) for name, body in sections}
    for name in ("over-time", "per-source", "watchlist", "places", "failures"):
        assert svgs[name], f"no chart in {name}"
        for tag in svgs[name]:
            w = re.search(r'\bwidth="(\d+(?:\.\d+)?)"', tag)
            h = re.search(r'\bheight="(\d+(?:\.\d+)?)"', tag)
            assert w and h and float(w.group(1)) > 0 and float(h.group(1)) > 0, tag
    assert "فؤاد حسين" in dom  # the watchlist name, as written
    assert "فءاد" not in dom  # never the folded form


@pytest.mark.slow
def test_the_report_flow_writes_the_file_that_runs_then_link(demo: DemoRun, tmp_path: Path) -> None:
    """The daily `report` deployment's flow, on a copy of the demo output: the file is
    written under DIR/reports, and `newest_report` (what monitor runs link) finds it."""
    import shutil

    from marsad.flows.report import report_flow
    from marsad.report_html import newest_report

    out = tmp_path / "data"
    shutil.copytree(demo.out, out, ignore=shutil.ignore_patterns("reports"))
    assert newest_report(str(out)) is None
    path = report_flow(out=str(out), days=100_000)  # every stored day
    assert path is not None and Path(path).is_file() and Path(path).parent == out / "reports"
    assert newest_report(str(out)) == path
    assert 'dir="rtl"' in Path(path).read_text(encoding="utf-8")
