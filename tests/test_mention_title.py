"""A person's title (issue 17): cut from the name by the span conventions, kept in `title`,
stored as a column of `mentions` and a field of `articles.entities` (schema version 6), and
read as null from files written before it.

Every sentence here was written for these tests (none is from a publisher page or ANERcorp).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from storefactory import article, polars_read, write_old_version

from marsad import report
from marsad.compact import compact
from marsad.dataset import read_dataset
from marsad.entities import find_entities
from marsad.linking import load_linker
from marsad.ner import load_tagger
from marsad.ner.backends import Tagger
from marsad.record import Article, Entity
from marsad.report_html import render
from marsad.schema import ARTICLES, ENTITY_TYPE, MENTIONS
from marsad.writer import Writer, article_rows, mention_rows

TEXTS = {
    "crown": "قال ولي العهد الأمير محمد بن نايف إن المملكة ماضية في الإصلاح .",
    "president": "استقبل الرئيس عبد الفتاح السيسي وفدا من رجال الأعمال في القاهرة .",
    "minister": "قال وزير الخارجية عادل الجبير إن المحادثات كانت مثمرة .",
    "nationality": "أكد وزير الخارجية العراقي فؤاد حسين أن الحوارات مستمرة .",
    "conjunction": "والرئيس عبد الفتاح السيسي قال إن الاتفاق قريب .",
    "bare": "وقال محمد بن نايف إن الوضع مستقر .",
}
# the name span and the title of the one person of each sentence
PEOPLE = {
    "crown": ("محمد بن نايف", "ولي العهد الأمير"),
    "president": ("عبد الفتاح السيسي", "الرئيس"),
    "minister": ("عادل الجبير", "وزير الخارجية"),
    "nationality": ("فؤاد حسين", "وزير الخارجية العراقي"),
    "conjunction": ("عبد الفتاح السيسي", "الرئيس"),
    "bare": ("محمد بن نايف", None),
}
OLD_DAY, NEW_DAY = 2, 3


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return load_tagger()


@pytest.fixture(scope="module")
def found(tagger: Tagger) -> dict[str, list[Entity]]:
    return {k: find_entities(t, tagger) for k, t in TEXTS.items()}


def _person(ents: list[Entity]) -> Entity:
    people = [e for e in ents if e.label == "PERS"]
    assert len(people) == 1, [(e.text, e.label) for e in ents]
    return people[0]


@pytest.mark.parametrize("key", sorted(PEOPLE))
def test_the_title_is_kept_outside_the_name(found: dict[str, list[Entity]], key: str) -> None:
    person = _person(found[key])
    assert (person.text, person.title) == PEOPLE[key]
    if person.title is not None:  # as written, just before the name
        before = TEXTS[key][: person.start].rstrip()
        assert before.endswith(person.title)


# An office held in a named body: the body belongs to the title, tagged or not; the title
# words of the second round (المتحدث، المبعوث); and two that are no title.
OFFICE_TEXTS = {
    "secretary": (
        "وقال الأمين العام لمجلس التعاون الخليجي جاسم البديوي إن القمة ناجحة .",
        ("جاسم البديوي", "الأمين العام لمجلس التعاون الخليجي"),
    ),
    "un": (
        "وصرح الأمين العام للأمم المتحدة أنطونيو غوتيريش بأن الوضع خطير .",
        ("أنطونيو غوتيريش", "الأمين العام للأمم المتحدة"),
    ),
    "spokesman": (
        "وأكد المتحدث باسم وزارة الخارجية الأمريكية ماثيو ميلر أن المحادثات مستمرة .",
        ("ماثيو ميلر", "المتحدث باسم وزارة الخارجية الأمريكية"),
    ),
    "premier": (
        "قال رئيس مجلس الوزراء العراقي محمد شياع السوداني إن الحكومة ماضية .",
        ("محمد شياع السوداني", "رئيس مجلس الوزراء العراقي"),
    ),
    "envoy": (
        "وقال المبعوث الأممي هانس غروندبرغ إن الهدنة صامدة .",
        ("هانس غروندبرغ", "المبعوث الأممي"),
    ),
    "audience": ("وقال الرئيس للصحفيين محمد إن الوضع جيد .", ("محمد", None)),
    "members": ("التقى أعضاء مجلس الشورى محمد الفلاني أمس .", ("محمد الفلاني", None)),
}


@pytest.mark.parametrize("key", sorted(OFFICE_TEXTS))
def test_an_office_in_a_named_body_is_the_title(tagger: Tagger, key: str) -> None:
    text, want = OFFICE_TEXTS[key]
    person = _person(find_entities(text, tagger, linker=load_linker()))
    assert (person.text, person.title) == want
    if person.title is not None:
        assert text[: person.start].rstrip().endswith(person.title)


# Watchlist aliases that hold a title (seeds/watchlist.yaml: الملك عبد الله الثاني, ولي العهد
# السعودي الأمير محمد بن سلمان): the linked mention is cut to the name, its title words kept.
ALIAS_TEXTS = {
    "king": (
        "قال الملك عبد الله الثاني إن الأردن يدعم الحل .",
        ("عبد الله الثاني", "الملك", "king-abdullah-ii"),
    ),
    "monarch": (
        "استقبل العاهل الأردني الملك عبد الله الثاني وفدا أمريكيا .",
        ("عبد الله الثاني", "العاهل الأردني الملك", "king-abdullah-ii"),
    ),
    "crown-prince": (
        "والتقى ولي العهد السعودي الأمير محمد بن سلمان الرئيس الفرنسي .",
        ("محمد بن سلمان", "ولي العهد السعودي الأمير", "mohammed-bin-salman"),
    ),
}


@pytest.mark.parametrize("key", sorted(ALIAS_TEXTS))
def test_a_watchlist_alias_with_a_title_is_cut_to_the_name(tagger: Tagger, key: str) -> None:
    text, want = ALIAS_TEXTS[key]
    person = _person(find_entities(text, tagger, linker=load_linker()))
    assert (person.text, person.title, person.entity_id) == want
    assert text[person.start : person.end] == person.text
    assert person.norm == person.text  # no marks to fold in these sentences
    assert text[: person.start].rstrip().endswith(person.title)


def test_other_labels_have_no_title(found: dict[str, list[Entity]]) -> None:
    others = [e for ents in found.values() for e in ents if e.label != "PERS"]
    assert ("القاهرة", "LOC") in [(e.text, e.label) for e in others]
    assert all(e.title is None for e in others)


def test_linked_people_keep_their_title(tagger: Tagger) -> None:
    """Titles are set after watchlist linking, so a linked mention has one too."""
    ents = find_entities(TEXTS["president"], tagger, linker=load_linker())
    sisi = _person(ents)
    assert sisi.entity_id is not None
    assert (sisi.text, sisi.title) == ("عبد الفتاح السيسي", "الرئيس")


def _articles(found: dict[str, list[Entity]]) -> list[Article]:
    arts = []
    for i, key in enumerate(sorted(TEXTS)):
        art = article(100 + i, day=NEW_DAY, text=TEXTS[key])
        art.entities = found[key]
        arts.append(art)
    return arts


def _old_files(root: Path, arts: list[Article]) -> None:
    """Files as marsad wrote them at version 5: no `title`, flat or nested."""
    old_entity = pa.struct([f for f in ENTITY_TYPE if f.name != "title"])
    old_arts = pa.schema(
        [f.with_type(pa.list_(old_entity)) if f.name == "entities" else f for f in ARTICLES]
    )
    rows = [
        {**r, "entities": [{k: v for k, v in e.items() if k != "title"} for e in r["entities"]]}
        for r in article_rows(arts)
    ]
    path = root / "articles" / f"date=2026-01-0{OLD_DAY}" / "part-v5-00000.parquet"
    path.parent.mkdir(parents=True)
    meta = old_arts.with_metadata({"marsad.schema_version": "5"})
    pq.write_table(pa.Table.from_pylist(rows, schema=meta), path)
    ments = root / "mentions" / path.relative_to(root / "articles")
    write_old_version(ments, MENTIONS, mention_rows(arts), "title", "5")


def test_titles_are_stored_and_old_files_read_as_null(
    found: dict[str, list[Entity]], tmp_path: Path
) -> None:
    old = [article(i, day=OLD_DAY) for i in range(3)]  # فؤاد حسين، بغداد: 6 mentions
    _old_files(tmp_path, old)
    new = _articles(found)
    assert Writer(tmp_path).store(new, [], "r6", 0)[0]
    want = {(e.text, e.title) for a in new for e in a.entities if e.label == "PERS"}
    assert ("محمد بن نايف", "ولي العهد الأمير") in want and ("محمد بن نايف", None) in want
    titled = sum(e.title is not None for a in new for e in a.entities)
    assert titled == 5
    mglob, aglob = (f"{tmp_path}/{ds}/**/*.parquet" for ds in ("mentions", "articles"))

    # the new file has the column, written as the schema says
    new_file = next((tmp_path / "mentions" / f"date=2026-01-0{NEW_DAY}").glob("*.parquet"))
    meta = pq.read_schema(new_file)
    assert meta.field("title").type == pa.string()
    assert meta.metadata[b"marsad.schema_version"] == b"6"

    # marsad's reader: the old file's rows read as null beside the new ones
    ments = pl.from_arrow(read_dataset(tmp_path, "mentions"))
    assert isinstance(ments, pl.DataFrame)
    new_ments = ments.filter(pl.col("date").dt.day() == NEW_DAY)
    by_day = ments.group_by("date").agg(pl.len(), pl.col("title").count()).sort("date")
    assert by_day.select("len", "title").rows() == [(6, 0), (new_ments.height, titled)]
    people = new_ments.filter(pl.col("label") == "PERS").select("text", "title").rows()
    assert set(people) == want
    arts = read_dataset(tmp_path, "articles")
    nested = [e["title"] for ents in arts.column("entities").to_pylist() for e in ents]
    assert len(nested) == ments.height and nested.count(None) == ments.height - titled

    # DuckDB by name, flat and inside `entities`
    flat = duckdb.sql(
        f"select date, count(*), count(title) from read_parquet('{mglob}', "
        "hive_partitioning=true, union_by_name=true) group by date order by date"
    ).fetchall()
    assert [(n, t) for _d, n, t in flat] == [(6, 0), (new_ments.height, titled)]
    crown = duckdb.sql(
        f"select title from read_parquet('{mglob}', hive_partitioning=true, "
        "union_by_name=true) where text = 'محمد بن نايف' order by title nulls last"
    ).fetchall()
    assert crown == [("ولي العهد الأمير",), (None,)]
    nested_db = duckdb.sql(
        f"select count(*), count(e.title) from read_parquet('{aglob}', "
        "hive_partitioning=true, union_by_name=true), unnest(entities) as t(e)"
    ).fetchall()
    assert nested_db == [(ments.height, titled)]

    # polars, with the options the README gives
    assert polars_read(mglob, MENTIONS)["title"].null_count() == ments.height - titled
    ents = polars_read(aglob, ARTICLES).select(pl.col("entities").explode().struct.field("title"))
    assert ents.height == ments.height and ents["title"].null_count() == ments.height - titled

    # the report reads both versions and shows each person's most frequent title
    frames = report.load(tmp_path, date(2026, 1, OLD_DAY), date(2026, 1, NEW_DAY))
    top = report.top_entities(frames.mentions)
    shown = {(r["label"], r["name"]): (r["title"], r["mentions"]) for r in top.to_dicts()}
    assert shown[("PERS", "محمد بن نايف")] == ("ولي العهد الأمير", 2)  # one titled, one bare
    assert shown[("PERS", "عبد الفتاح السيسي")] == ("الرئيس", 2)
    assert shown[("LOC", "القاهرة")] == (None, 1)
    # the old file's فؤاد حسين (hand-made, another `norm`: another key) reads as untitled
    fuad = top.filter(pl.col("name") == "فؤاد حسين").select("title", "mentions").sort("mentions")
    assert fuad.rows() == [("وزير الخارجية العراقي", 1), (None, 3)]
    page = render(frames, date(2026, 1, OLD_DAY), date(2026, 1, NEW_DAY)).html
    assert "<th>اللقب</th>" in page and "<td>ولي العهد الأمير</td>" in page

    # compaction brings the old file to version 6; its titles stay null, the new ones stay
    compact(tmp_path, min_files=1)
    plain = pl.scan_parquet(mglob, hive_partitioning=True).collect()
    assert plain.filter(pl.col("title").is_not_null()).height == titled
    assert set(plain.filter(pl.col("label") == "PERS").select("text", "title").rows()) == want | {
        ("فؤاد حسين", None)
    }


def test_report_shows_the_most_frequent_title_and_none_without_the_column() -> None:
    titles = [None, "الرئيس", "الرئيس المصري", "الرئيس", None]
    rows = pl.DataFrame(
        {
            "article_id": ["a1", "a2", "a3", "a4", "a5"],
            "text": ["السيسي"] * 5,
            "norm": ["السيسي"] * 5,
            "label": ["PERS"] * 5,
            "entity_id": ["Q1"] * 5,
            "name": ["عبد الفتاح السيسي"] * 5,
            "title": titles,
        }
    )
    top = report.top_entities(rows)
    assert top.select("name", "title", "mentions").rows() == [("عبد الفتاح السيسي", "الرئيس", 5)]
    untitled = report.top_entities(rows.drop("title"))  # rows made before version 6
    assert untitled.select("name", "title", "mentions").rows() == [("عبد الفتاح السيسي", None, 5)]
