"""Display names: every mention gets `name` (nothing folded), linked ones `name_en` too, and the
run's artifact shows names, one watchlist row per entity."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pytest
from demorun import DemoRun, demo_run

from marsad.entities import find_entities, surface_name
from marsad.linking import load_linker
from marsad.ner.backends import tagger_for
from marsad.record import Article, Entity
from marsad.summary import RunSummary
from marsad.text.arabic import normalise
from marsad.watchlist import load_watchlist


@pytest.mark.parametrize(
    ("surface", "name"),
    [
        ("للعراق", "العراق"),  # ل + العراق, the alef elided: written again
        ("وللعراق", "العراق"),
        ("لِلْعِرَاقِ", "الْعِرَاقِ"),  # the preposition's vowel goes with it, the rest stays
        ("للأمم المتحدة", "الأمم المتحدة"),
        ("السعودية", "السعودية"),
        ("بغداد", "بغداد"),
        ("فؤاد حسين", "فؤاد حسين"),  # never folded (the norm is فءاد حسين)
        ("تنسّق", "تنسّق"),
        ("لله", "لله"),  # too short to be ل + ال + a name
        ("ليبيا", "ليبيا"),
        (" لبنان ", "لبنان"),
    ],
)
def test_surface_name(surface: str, name: str) -> None:
    assert surface_name(surface) == name


@pytest.fixture(scope="module")
def crf():  # the bundled CRF alone: fast, and what the tagger path's proclitic rule uses
    return tagger_for("crf", neural=False)


def _names(text: str, tagger, linked: bool = True) -> dict[str, tuple[str | None, ...]]:
    ents = find_entities(text, tagger, "aggressive", load_linker() if linked else None)
    return {e.text: (e.name, e.name_en, e.entity_id) for e in ents}


def test_real_mentions_get_readable_names(crf) -> None:
    got = _names("زار الوزير بغداد والسعودية وسامراء أمس، وقال إن للعراق دورا.", crf)
    assert got["بغداد"] == ("بغداد", "Baghdad", "Q1530")  # ب belongs to the name
    assert got["السعودية"] == ("السعودية", "Saudi Arabia", "Q851")  # و cut, ال kept
    assert got["سامراء"] == ("سامراء", None, None)  # not on the watchlist: its surface
    assert got["عراق"] == ("العراق", "Iraq", "Q796")  # the linker trims لل; the name is whole
    people = _names("وقالت مصادر لصحيفة الشرق الأوسط إن فؤاد حسين التقى الوزير.", crf)
    assert people["فؤاد حسين"] == ("فؤاد حسين", None, None)
    assert normalise("فؤاد حسين").text == "فءاد حسين"  # what `norm` holds instead


def test_linked_names_come_from_the_watchlist(crf) -> None:
    wl = load_watchlist()
    text = "اجتمع حلف شمال الأطلسي في بروكسل بحضور منظمة البلدان المصدرة للبترول."
    for e in find_entities(text, crf, "aggressive", load_linker()):
        if e.entity_id:
            entry = wl.get(e.entity_id)
            assert entry is not None
            assert (e.name, e.name_en) == (entry.ar[0], entry.name)
    names = {e.name for e in find_entities(text, crf, "aggressive", load_linker())}
    assert {"الناتو", "أوبك"} <= names  # the entity's first Arabic alias, not the spelling met


class PrefixTagger:
    """Tags every token that starts with لل or ولل as a place: spans the linker never sees."""

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [["B-LOC" if t.startswith(("لل", "ولل")) else "O" for t in s] for s in sentences]


def test_unlinked_lam_lam_mentions_are_named_with_the_article() -> None:
    text = "سافر الوفد للكوفة ثم وللبصرة."
    got = _names(text, PrefixTagger(), linked=False)
    assert [n for n, _en, _id in got.values()] == ["الكوفة", "البصرة"]
    assert all(text.find(surface) >= 0 for surface in got)  # the surface itself is untouched


def test_hits_are_grouped_per_entity_with_names() -> None:
    def art(n: int, ents: list[Entity]) -> Article:
        from datetime import UTC, datetime

        url = f"http://x.example/{n}"
        return Article(url, "s", datetime.now(UTC), article_id=str(n), title=f"t{n}", entities=ents)

    nato = Entity("حلف الناتو", "حلف الناتو", "ORG", 0, 10, "Q7184", "الناتو", "NATO")
    nato2 = Entity("الناتو", "الناتو", "ORG", 20, 26, "Q7184", "الناتو", "NATO")
    fuad = Entity("فؤاد حسين", "فءاد حسين", "PERS", 30, 39, None, "فؤاد حسين")
    s = RunSummary("r")
    hits = s.add_entities([art(1, [nato, nato2, fuad]), art(2, [nato2])])
    assert [(h["entity_id"], h["name"], h["name_en"], h["mention"]) for h in hits] == [
        ("Q7184", "الناتو", "NATO", "حلف الناتو"),
        ("Q7184", "الناتو", "NATO", "الناتو"),
    ]
    (row,) = s.hits_by_entity()
    assert (row["name"], row["entity_id"], row["mentions"], row["articles"]) == (
        "الناتو",
        "Q7184",
        3,
        2,
    )
    md = s.markdown()
    assert "| الناتو | ORG | 3 |" in md and "| فؤاد حسين | PERS | 1 |" in md
    assert "| الناتو | Q7184 | 3 | 2 |" in md and "فءاد" not in md


# --- the demo site through the monitor flow ------------------------------------------------------


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return demo_run(tmp_path_factory)


def test_every_stored_mention_has_a_name(demo: DemoRun) -> None:
    wl = load_watchlist()
    mentions = pl.read_parquet(f"{demo.out}/mentions/**/*.parquet", hive_partitioning=True)
    assert mentions.height > 50 and mentions["name"].null_count() == 0
    for row in mentions.iter_rows(named=True):
        if row["entity_id"]:
            entry = wl.get(row["entity_id"])
            assert entry is not None and row["name"] == entry.ar[0]
            assert row["name_en"] == entry.name
        else:
            assert row["name"] == surface_name(row["text"]) and row["name_en"] is None
    fuad = mentions.filter(pl.col("text") == "فؤاد حسين")
    assert fuad.height >= 2 and set(fuad["name"]) == {"فؤاد حسين"}
    assert set(fuad["norm"]) == {"فءاد حسين"}
    # articles.entities carry the same names as the flat mentions
    arts = pl.read_parquet(f"{demo.out}/articles/**/*.parquet", hive_partitioning=True)
    nested = sorted(
        (a, e["start"], e["name"], e["name_en"])
        for a, ents in zip(arts["article_id"], arts["entities"], strict=True)
        for e in ents
    )
    flat = sorted(mentions.select("article_id", "start", "name", "name_en").iter_rows())
    assert nested == flat


def test_the_entities_artifact_shows_names_never_folded_forms(demo: DemoRun) -> None:
    md = demo.entities_md
    top, hits = md.split("## Watchlist hits")
    assert "| فؤاد حسين | PERS |" in top
    for folded in ("فءاد حسين", "السعوديه", "الديمقراطيه", "قوات سوريا الديمقراطيه"):
        assert folded not in md
    mentions = pl.read_parquet(f"{demo.out}/mentions/**/*.parquet", hive_partitioning=True)
    linked = mentions.filter(pl.col("entity_id").is_not_null())
    per_entity = linked.group_by("entity_id", "name").agg(
        pl.len().alias("mentions"), pl.col("article_id").n_unique().alias("articles")
    )
    rows = [line for line in hits.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) - 1 == per_entity.height  # one row per entity, under the header
    for eid, name, n, n_arts in per_entity.iter_rows():
        (row,) = [r for r in rows if f"| {eid} |" in r]
        assert row.startswith(f"| {name} | {eid} | {n} | {n_arts} |")
    assert "| قوات سوريا الديمقراطية | syrian-democratic-forces |" in hits
