from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import astuple
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.entities import find_entities, tag_articles
from marsad.linking import Linker, load_linker, merge
from marsad.ner.rules import RuleTagger
from marsad.record import Article, Entity
from marsad.settings import Settings
from marsad.text.arabic import normalise, token_words
from marsad.text.clitics import clitic_variants
from marsad.watchlist import parse_watchlist

NATO, ISIS, IRAQ, UN = "Q7184", "Q2429253", "Q796", "Q1065"


@pytest.fixture(scope="module")
def linker() -> Linker:
    return load_linker()


def _found(linker: Linker, text: str) -> list[tuple[str, str]]:
    return [(text[m.start : m.end], m.entry.id) for m in linker.find(text)]


def test_clitic_variants_read_conjunction_preposition_and_lam_lam() -> None:
    assert set(clitic_variants("وبالناتو")) >= {(0, "وبالناتو"), (1, "بالناتو"), (2, "الناتو")}
    assert (2, "الناتو") in set(clitic_variants("للناتو"))  # ل + ال, the alef elided
    assert (3, "الناتو") in set(clitic_variants("وللناتو"))
    assert all(len(core) >= 2 for _, core in clitic_variants("وبه"))


@pytest.mark.parametrize(
    ("word", "surface"),
    [
        ("الناتو", "الناتو"),
        ("والناتو", "الناتو"),
        ("فالناتو", "الناتو"),
        ("بالناتو", "الناتو"),
        ("كالناتو", "الناتو"),
        ("وبالناتو", "الناتو"),
        ("فبالناتو", "الناتو"),
        ("للناتو", "ناتو"),
        ("وللناتو", "ناتو"),
        ("وبالنّاتُو", "النّاتُو"),  # diacritics stay in the surface, clitics go
        ("«الناتـــو»", "الناتـــو"),
    ],
)
def test_clitics_are_tolerated_and_trimmed(linker: Linker, word: str, surface: str) -> None:
    text = f"قال المسؤول إن {word} مستعد."
    assert _found(linker, text) == [(surface, NATO)]


@pytest.mark.parametrize(
    "text",
    ["الناتوية", "مناتو", "بغدادي", "nato", "who said it", "Iraqi", "العراقيون"],
)
def test_no_match_inside_longer_words_or_in_the_wrong_case(linker: Linker, text: str) -> None:
    assert _found(linker, text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("قاتل تنظيم الدولة الإسلامية أمس", [("تنظيم الدولة الإسلامية", ISIS)]),  # longest
        ("قاتل تنظيم الدولة أمس", [("تنظيم الدولة", ISIS)]),
        ("والامم المتحده", [("الامم المتحده", UN)]),  # spelling folded
        ("وبالأُمَمِ المُتَّحِدَةِ", [("الأُمَمِ المُتَّحِدَةِ", UN)]),  # trailing diacritic kept
        ("لحلف شمال الأطلسي", [("حلف شمال الأطلسي", NATO)]),
        ("NATO and ISIS", [("NATO", NATO), ("ISIS", ISIS)]),
        ("Nato, the WHO", [("Nato", NATO), ("WHO", "Q7817")]),
        ("THE UNITED NATIONS", [("UNITED NATIONS", UN)]),
        ("في العراق والعراق وللعراق", [("العراق", IRAQ), ("العراق", IRAQ), ("عراق", IRAQ)]),
    ],
)
def test_matches(linker: Linker, text: str, expected: list[tuple[str, str]]) -> None:
    assert _found(linker, text) == expected


# --- merging the model's spans with the watchlist's -------------------------------------------


def _ent(text: str, part: str, label: str, nth: int = 0) -> Entity:
    start = -1
    for _ in range(nth + 1):
        start = text.index(part, start + 1)
    return Entity(part, normalise(part).text, label, start, start + len(part))


def _merged(linker: Linker, text: str, model: list[Entity]) -> list[tuple[str, str, str | None]]:
    out = merge(text, model, linker.find(text))
    for e in out:
        assert text[e.start : e.end] == e.text
    return [(e.text, e.label, e.entity_id) for e in out]


def test_a_coinciding_model_span_gets_the_id_and_loses_its_clitic(linker: Linker) -> None:
    text = "تعاون العراق وبالناتو"
    model = [_ent(text, "العراق", "LOC"), _ent(text, "وبالناتو", "LOC")]
    assert _merged(linker, text, model) == [
        ("العراق", "LOC", IRAQ),
        ("الناتو", "ORG", NATO),  # the watchlist's type: one entity, one type
    ]


def test_a_match_covering_model_fragments_replaces_them(linker: Linker) -> None:
    text = "اجتماع حلف شمال الأطلسي اليوم"
    model = [_ent(text, "حلف", "ORG"), _ent(text, "الأطلسي", "LOC")]
    assert _merged(linker, text, model) == [("حلف شمال الأطلسي", "ORG", NATO)]


def test_a_person_span_containing_a_surname_alias_is_linked(linker: Linker) -> None:
    text = "قال الرئيس جو روبينيت بايدن"
    model = [_ent(text, "جو روبينيت بايدن", "PERS")]
    assert _merged(linker, text, model) == [("جو روبينيت بايدن", "PERS", "Q6279")]


def test_a_longer_other_entity_is_not_linked_to_a_place_inside_it(linker: Linker) -> None:
    text = "درس في جامعة بغداد ثم زار بغداد"
    model = [_ent(text, "جامعة بغداد", "ORG")]
    assert _merged(linker, text, model) == [
        ("جامعة بغداد", "ORG", None),
        ("بغداد", "LOC", "Q1530"),  # the second mention, which no model span covers
    ]


def test_a_match_crossing_model_spans_wins(linker: Linker) -> None:
    text = "قال مجلس الأمن الدولي أمس"
    model = [_ent(text, "قال مجلس", "ORG"), _ent(text, "الدولي أمس", "MISC")]
    assert _merged(linker, text, model) == [("مجلس الأمن الدولي", "ORG", "Q37470")]


def test_unrelated_model_spans_are_kept_and_nothing_is_duplicated(linker: Linker) -> None:
    text = "قال زيد عمرو إن داعش وداعش في الموصل"
    model = [_ent(text, "زيد عمرو", "PERS"), _ent(text, "داعش", "ORG")]
    assert _merged(linker, text, model) == [
        ("زيد عمرو", "PERS", None),
        ("داعش", "ORG", ISIS),
        ("داعش", "ORG", ISIS),
        ("الموصل", "LOC", "mosul"),
    ]


# --- properties over whole texts -----------------------------------------------------------------

ALIASES = {
    "الناتو": NATO,
    "حلف شمال الأطلسي": NATO,
    "داعش": ISIS,
    "تنظيم الدولة الإسلامية": ISIS,
    "العراق": IRAQ,
    "الأمم المتحدة": UN,
    "NATO": NATO,
}
PIECE = st.tuples(
    st.sampled_from(["", "و", "ب", "وب", "ف", "ك"]),
    st.sampled_from(sorted(ALIASES)),
    st.sampled_from(["", "َ", "ُ", "ـ", "ّ"]),  # a mark after the first letter
)


class NoTagger:
    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [["O"] * len(s) for s in sentences]


FILLER = st.sampled_from(["قال", "أمس، ", "وزير", "في", ".", "\n", "مع «", "» ", "زيد عمرو"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(FILLER, PIECE), min_size=1, max_size=8))
def test_every_inserted_alias_is_linked_with_exact_offsets(
    linker: Linker, parts: list[tuple[str, tuple[str, str, str]]]
) -> None:
    text, wanted = "", []
    for filler, (clitic, alias, mark) in parts:
        if alias.isascii():
            clitic = ""
        text += filler + " " + clitic + alias[0] + mark + alias[1:] + " "
        wanted.append(ALIASES[alias])
    for tagger in (NoTagger(), RuleTagger()):
        ents = find_entities(text, tagger, linker=linker)
        for e in ents:
            assert text[e.start : e.end] == e.text
            assert e.norm == normalise(e.text).text
        spans = sorted((e.start, e.end) for e in ents)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # no overlaps
    # with no model spans in the way, every alias is found once, in order
    assert [e.entity_id for e in find_entities(text, NoTagger(), linker=linker)] == wanted


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(FILLER, PIECE), min_size=1, max_size=6), max_size=5))
def test_a_linker_whose_memo_is_emptied_finds_the_same(
    linker: Linker, texts: list[list[tuple[str, tuple[str, str, str]]]]
) -> None:
    """The memo of each word's readings is emptied when full: at a limit of 3 words it is
    emptied on nearly every call, and the matches must not change."""
    small = Linker(linker.watchlist)
    small.memo_limit = 3
    for parts in texts:
        text = " ".join(f + " " + c + a[0] + m + a[1:] for f, (c, a, m) in parts)
        assert small.find(text) == linker.find(text)
        words = set(token_words(normalise(text, "aggressive").text))
        assert len(small._openers) <= max(3, len(words))  # emptied, then this call's words


def test_threads_sharing_a_linker_whose_memo_is_emptied_find_the_same(linker: Linker) -> None:
    """Worker threads share the process's linker: one emptying the memo (it is replaced, not
    cleared) must not take words from under another's call."""
    import random
    import sys
    import threading

    small = Linker(linker.watchlist)
    small.memo_limit = 5
    words = ["قال", "الناتو", "وبالناتو", "داعش", "للعراق", "الأمم", "المتحدة", "حلف", "شمال"]
    words += ["الأطلسي", "في", ".", "زيد"]
    rng = random.Random(1)
    texts = [" ".join(rng.choices(words, k=rng.randint(1, 40))) for _ in range(200)]
    want = [linker.find(t) for t in texts]
    errors: list[str] = []

    def work(k: int) -> None:
        try:
            for j in range(k, len(texts), 8):
                assert small.find(texts[j]) == want[j]
        except Exception as exc:  # reported below, with the thread's failure
            errors.append(repr(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        for _ in range(10):
            threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


def test_merge_leaves_its_input_as_it_was(linker: Linker) -> None:
    text = "قال الرئيس جو روبينيت بايدن إن الناتو باق"
    model = [_ent(text, "جو روبينيت بايدن", "PERS"), _ent(text, "الناتو", "ORG")]
    before = [astuple(e) for e in model]
    out = merge(text, model, linker.find(text))
    assert [astuple(e) for e in model] == before  # a linked mention is a changed copy
    assert [(e.text, e.entity_id) for e in out] == [
        ("جو روبينيت بايدن", "Q6279"),
        ("الناتو", NATO),
    ]


def test_settings_choose_the_watchlist(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "entities:\n  - {id: acme, type: ORG, name: Acme, ar: [شركة أكمي], latin: [ACME]}\n",
        encoding="utf-8",
    )
    art = Article("u", "s", datetime.now(UTC), text="قالت شركة أكمي إن وACME والناتو بعيدان.")
    done, failed = tag_articles([art], settings=Settings(ner_backend="rules", watchlist=str(path)))
    assert not failed
    assert [(e.text, e.entity_id) for e in done[0].entities if e.entity_id] == [
        ("شركة أكمي", "acme"),
        ("ACME", "acme"),
    ]  # NATO is not in this watchlist
    assert load_linker(str(path)) is load_linker(str(path))  # built once per process


def test_a_bad_watchlist_setting_fails_the_batch_loudly(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("entities:\n  - {id: acme, type: COMPANY, name: Acme, ar: [أكمي]}\n")
    art = Article("u", "s", datetime.now(UTC), text="نص")
    with pytest.raises(ValueError, match=r"bad.yaml: entity #1 \('acme'\): key 'type'"):
        tag_articles([art], settings=Settings(ner_backend="rules", watchlist=str(path)))


def test_a_linker_from_a_parsed_watchlist() -> None:
    wl = parse_watchlist("entities:\n  - {id: x-y, type: MISC, name: X, ar: [كأس العالم]}\n")
    assert [(m.entry.id, m.start) for m in Linker(wl).find("قبل كأس العالم")] == [("x-y", 4)]


# --- end to end: the demo site through the Prefect flow ------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_demo_pipeline_links_nato_and_isis_in_the_seed_article(
    tmp_path: Path, demo_site: str
) -> None:
    import duckdb
    import polars as pl

    from marsad.demo import demo_sources_yaml
    from marsad.flows.monitor import monitor

    sources = tmp_path / "sources.yaml"
    sources.write_text(demo_sources_yaml(demo_site), encoding="utf-8")
    out = tmp_path / "out"
    fast = Settings(allow_private_networks=True, per_host_delay_s=0.0, backoff_base_s=0.01)
    monitor(sources=str(sources), out=str(out), allow_private_networks=True, settings=fast)

    glob = f"{out}/articles/**/*.parquet"
    df = pl.scan_parquet(glob, hive_partitioning=True).collect()
    seed = df.filter(pl.col("title").str.contains("الناتو")).row(0, named=True)
    linked = {(e["text"], e["entity_id"]) for e in seed["entities"] if e["entity_id"]}
    assert ("الناتو", NATO) in linked
    assert ("داعش", ISIS) in linked
    assert ("بغداد", "Q1530") in linked
    for e in seed["entities"]:
        assert seed["text"][e["start"] : e["end"]] == e["text"]
    # the seed article's own people come from the tagger: the watchlist does not list them
    for e in seed["entities"]:
        if any(name in e["text"] for name in ("فؤاد حسين", "الخفاجي", "علاوي", "موريس")):
            assert e["entity_id"] is None

    rows = duckdb.sql(
        f"select m.entity_id, count(*) from read_parquet('{glob}', hive_partitioning=true) a, "
        "unnest(a.entities) as t(m) where m.entity_id is not null group by 1"
    ).fetchall()
    counts = dict(rows)
    assert counts[NATO] >= 3 and counts[ISIS] >= 2
    # the flat mentions dataset carries the same ids, one row per mention
    mentions = pl.read_parquet(f"{out}/mentions/**/*.parquet", hive_partitioning=True)
    per_id = dict(mentions.group_by("entity_id").len().drop_nulls("entity_id").iter_rows())
    assert per_id == counts
