"""`marsad search` on the demo site's output: spelling-blind matching, BM25 order, snippets,
filters and exit codes; the small pure parts on their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from demorun import DemoRun, demo_run
from storefactory import article

from marsad.cli import main
from marsad.search import Scan, search, snippet, width
from marsad.search_terms import SearchError, locate, parse_query, parse_since, term_counts
from marsad.writer import Writer

FUAD = "فؤاد حسين"


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return demo_run(tmp_path_factory)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["search", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- the pure parts ------------------------------------------------------------------------------


def test_since_takes_spans_and_dates() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    for bad in ("7", "7x", "d7", "yesterday", "2026-13-01", ""):
        with pytest.raises(SearchError, match="--since"):
            parse_since(bad, now)


def test_query_words_are_normalised_and_need_a_letter() -> None:
    assert parse_query("فُؤَاد  حُسَين!").words == ("فءاد", "حسين")
    assert parse_query("فئاد حسين").words == ("فءاد", "حسين")  # another hamza seat
    with pytest.raises(SearchError, match="no word"):
        parse_query(" ، ؟ ")


def test_words_match_behind_proclitics_but_not_inside_other_words() -> None:
    query = parse_query("العراق بغداد")
    text = "للعراق، (والعراق) العراقي وبغداد.\nبغدادي بغداد عراق العراقالعراق"
    assert term_counts(text, query) == Counter({"العراق": 2, "بغداد": 2})


def test_bm25_prefers_more_occurrences_in_shorter_texts() -> None:
    scan = Scan(parse_query("بغداد"), files=["f"])
    scan.add("short", "", "بغداد بغداد وفد", 0)
    scan.add("long", "", "بغداد " + "كلام " * 50, 0)
    scan.add("none", "", "القاهرة", 0)
    ranked = scan.ranked()
    assert [aid for _s, aid, _f in ranked] == ["short", "long"]
    assert ranked[0][0] > ranked[1][0] > 0


def test_locate_finds_the_phrase_in_the_original_text() -> None:
    text = "قال حسين كلاماً. ثم التقى الوزير فُؤَاد حُسَين، في بغداد."
    start, end = locate(text, parse_query("فئاد حسين")) or (0, 0)
    assert text[start:end] == "فُؤَاد حُسَين"
    one = locate(text, parse_query("للبغداد حسين"))  # no phrase: the first word found
    assert one is not None and text[one[0] : one[1]] == "حسين"
    assert locate(text, parse_query("القاهرة")) is None


def test_snippets_cut_at_spaces_on_one_line() -> None:
    text = "أول " * 40 + "فؤاد\nحسين" + " آخر" * 40
    at = text.index("فؤاد")
    s = snippet(text, (at, at + 9), context=20)
    assert s.startswith("…أول") and s.endswith("آخر…") and "فؤاد حسين" in s
    assert "\n" not in s and width("فُؤَاد") == 4  # diacritics take no column


# --- the demo output -----------------------------------------------------------------------------


def test_search_finds_fuad_hussein_however_the_query_is_spelled(demo: DemoRun) -> None:
    for query in (FUAD, "فُؤَادْ حُسَيْن", "فئاد حسين", "فءاد حسين", "فـؤاد حسيـن"):
        hits = search(demo.out, query)
        assert [h.title for h in hits] == ["بغداد تنسّق مع «الناتو» لمحاربة «داعش»"], query
        (hit,) = hits
        assert hit.match == FUAD and FUAD in hit.snippet
        texts = [h for h in _texts(demo) if h[0] == hit.article_id]
        assert texts[0][1][hit.start : hit.end] == FUAD
        assert hit.source == "marsad-demo" and hit.day == "2020-06-22"


def _texts(demo: DemoRun) -> list[tuple[str, str]]:
    import polars as pl

    df = pl.read_parquet(f"{demo.out}/articles/**/*.parquet", columns=["article_id", "text"])
    return list(df.iter_rows())


def test_diacritics_in_the_text_do_not_matter(demo: DemoRun) -> None:
    (hit,) = search(demo.out, "هاتفيا")  # the article writes هاتفياً
    assert hit.match == "هاتفياً" and "بحث هاتفياً مع نظيره" in hit.snippet
    (title_hit,) = search(demo.out, "تنسق")  # only the title has it, as تنسّق
    assert "تنسّق" in title_hit.title


def test_results_are_ranked_and_limited(demo: DemoRun) -> None:
    hits = search(demo.out, "السعودية")
    assert len(hits) == 2 and hits[0].score >= hits[1].score > 0
    assert all("السعودية" in h.match for h in hits)
    assert [h.rank for h in hits] == [1, 2]
    assert search(demo.out, "السعودية", limit=1) == hits[:1]


def test_the_table_and_json_lines(demo: DemoRun, capsys) -> None:
    code, out, _err = _run(capsys, FUAD, "--out", str(demo.out))
    assert code == 0
    head, row = out.splitlines()
    assert head.split() == ["#", "date", "source", "title", "snippet"]
    assert "2020-06-22" in row and "marsad-demo" in row and FUAD in row and "الناتو" in row
    code, out, _err = _run(capsys, "فُؤَاد", "--out", str(demo.out), "--json", "--limit", "5")
    assert code == 0
    (line,) = out.splitlines()
    obj = json.loads(line)
    assert obj["match"] == "فؤاد" and obj["source"] == "marsad-demo"
    assert obj["published_at"].startswith("2020-06-22") and obj["url"].endswith(".html")
    assert set(obj) >= {"rank", "score", "article_id", "title", "day", "snippet", "start", "end"}


def test_filters_and_exit_codes(demo: DemoRun, capsys) -> None:
    out = str(demo.out)
    assert _run(capsys, FUAD, "--out", out, "--since", "2020-06-01")[0] == 0
    code, stdout, err = _run(capsys, FUAD, "--out", out, "--since", "7d")  # a 2020 article
    assert (code, stdout) == (1, "") and "no articles match" in err
    assert _run(capsys, FUAD, "--out", out, "--source", "marsad-demo")[0] == 0
    assert _run(capsys, FUAD, "--out", out, "--source", "elsewhere")[0] == 1
    assert _run(capsys, "كلمةلاتوجد", "--out", out)[0] == 1
    code, _o, err = _run(capsys, FUAD, "--out", out, "--since", "last week")
    assert code == 2 and "--since" in err
    assert _run(capsys, "!!", "--out", out)[0] == 2
    for bad in (["--limit", "0"], ["--out", str(demo.root / "nowhere")]):
        with pytest.raises(SystemExit) as exc:
            main(["search", FUAD, *(["--out", out] if bad[0] != "--out" else []), *bad])
        assert exc.value.code == 2
    capsys.readouterr()


def test_a_folder_that_is_not_a_marsad_output_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["search", FUAD, "--out", str(tmp_path)])
    assert exc.value.code == 2 and "not a marsad output" in capsys.readouterr().err


def test_the_command_in_its_own_process(demo: DemoRun) -> None:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "marsad.cli",
            "search",
            "فئاد حسين",
            "--out",
            str(demo.out),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["match"] == FUAD


def test_since_and_source_filter_rows_not_only_partitions(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    old, new, other = article(1, text="خبر عن بغداد"), article(2, text="بغداد اليوم"), article(3)
    old.published_at = now - timedelta(days=10)
    new.published_at = now - timedelta(hours=2)
    other.source, other.published_at = "other", now - timedelta(hours=1)
    Writer(tmp_path).store([old, new, other], [], "r1", 0)
    ids = lambda hits: {h.article_id for h in hits}  # noqa: E731
    assert ids(search(tmp_path, "بغداد")) == {old.article_id, new.article_id, other.article_id}
    recent = search(tmp_path, "بغداد", since=now - timedelta(days=1))
    assert ids(recent) == {new.article_id, other.article_id}
    assert ids(search(tmp_path, "بغداد", source="other")) == {other.article_id}


def test_search_reads_outputs_given_as_uris(demo: DemoRun) -> None:
    from marsad.dataset import resolve

    (hit,) = search(demo.out.as_uri(), FUAD)  # file:// goes through the same resolver
    assert hit.match == FUAD
    loc = resolve("mock:///bucket/marsad")  # pyarrow's in-memory filesystem, as for s3://
    Writer(loc).store([article(1, text="وزار فُؤاد حسين بغداد"), article(2)], [], "r1", 0)
    hits = search(loc, "فؤاد حسين")
    assert [h.match for h in hits] == ["فُؤاد حسين", "فؤاد حسين"]
