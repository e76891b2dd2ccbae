"""StoryIndex on small hand-written docs: what joins, what stays apart, windows, merges."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad import story_match
from marsad.story_features import stem, terms
from marsad.story_match import StoryDoc, StoryIndex

T0 = datetime(2015, 8, 6, 12, tzinfo=UTC)

BOMB = "انتحاري يفجر نفسه في مسجد قوات الطوارئ في أبها ومقتل 15 من رجال الأمن"
BOMB_LEAD = (
    "فجر انتحاري نفسه ظهر اليوم في مسجد تابع لقوات الطوارئ الخاصة في مدينة أبها بمنطقة عسير "
    "أثناء صلاة الظهر ما أدى إلى استشهاد 15 شخصا وإصابة آخرين بحسب المتحدث الأمني"
)
BOMB2 = "استشهاد 15 من رجال الأمن في تفجير انتحاري بمسجد الطوارئ بعسير"
BOMB2_LEAD = (
    "صرح المتحدث الأمني بوزارة الداخلية أن انتحاريا فجر نفسه في مسجد قوات الطوارئ الخاصة "
    "بمنطقة عسير أثناء صلاة الظهر واستشهد 15 من رجال الأمن"
)
# Same topic and place, another event: a festival opened by the same emir.
FEST = "أمير عسير يفتتح مهرجان أبها يجمعنا للسياحة الصيفية"
FEST_LEAD = (
    "افتتح أمير منطقة عسير مساء اليوم مهرجان أبها يجمعنا الذي تنظمه هيئة السياحة "
    "بمشاركة الفرق الشعبية والحرفيين في ساحة المفتاحة وسط أبها"
)
TENNIS = "نيمار يغيب عن الملاعب أسبوعين بسبب الغدة النكفية"
TENNIS_LEAD = "أعلن نادي برشلونة أن مهاجمه البرازيلي نيمار سيغيب أسبوعين بسبب إصابته بالغدة النكفية"
SITE = "أمير عسير يقف على موقع تفجير مسجد قوات الطوارئ ويزور المصابين"
SITE_LEAD = (
    "وقف أمير منطقة عسير على موقع التفجير الانتحاري في مسجد قوات الطوارئ الخاصة بأبها "
    "وزار المصابين في المستشفى"
)
BOMB_ENTS = ("LOC:ابها", "LOC:عسير", "ORG:قوات الطوارء الخاصه")


def doc(
    aid: str,
    title: str,
    lead: str,
    hours: float = 0.0,
    source: str = "alriyadh",
    entities: tuple[str, ...] = (),
    dup: str | None = None,
) -> StoryDoc:
    return StoryDoc(aid, T0 + timedelta(hours=hours), source, title, lead, entities, dup)


def test_stems_fold_clitics_spelling_and_keep_numbers() -> None:
    assert stem("بالوزارة") == stem("الوزارات") == stem("وزارة")
    assert stem("في") is None  # a function word
    assert stem("١٣٩٧٠") == stem("13970") == "#13970"
    assert stem("5") is None  # one digit names nothing
    counts = terms("تفجير أبها", "تفجير في أبها")
    assert counts[stem("تفجير") or ""] == story_match_title_weight() + 1


def story_match_title_weight() -> int:
    from marsad import story_features

    return story_features.TITLE_WEIGHT


def test_first_doc_opens_a_story_named_after_it() -> None:
    index = StoryIndex()
    got = index.assign(doc("a", BOMB, BOMB_LEAD, entities=BOMB_ENTS))
    assert got.story_id == "a" and got.merged == []


def test_same_event_in_other_words_from_another_outlet_joins() -> None:
    index = StoryIndex()
    index.assign(doc("a", BOMB, BOMB_LEAD, entities=BOMB_ENTS))
    got = index.assign(doc("b", BOMB2, BOMB2_LEAD, 2, "alwatan", BOMB_ENTS))
    assert got.story_id == "a"


def test_unrelated_article_opens_its_own_story() -> None:
    index = StoryIndex()
    index.assign(doc("a", BOMB, BOMB_LEAD, entities=BOMB_ENTS))
    got = index.assign(doc("n", TENNIS, TENNIS_LEAD, 1, "okaz", ("PERS:نيمار",)))
    assert got.story_id == "n"


OTHER = [  # a day's other news from the same region: what makes عسير and أبها common keys
    ("أمطار غزيرة على مرتفعات عسير وتحذيرات للمتنزهين", "شهدت مرتفعات عسير أمطارا غزيرة اليوم"),
    ("جامعة الملك خالد في أبها تعلن مواعيد القبول", "أعلنت الجامعة في أبها مواعيد القبول"),
    ("العربات المعلقة تستهوي زوار عسير في الصيف", "استهوت العربات المعلقة آلاف الزوار"),
    ("مستشفى عسير المركزي يجري عملية نادرة لطفل", "أجرى فريق طبي عملية نادرة لطفل"),
    ("بلدية أبها تزيل مخالفات في الأحياء الشمالية", "أزالت البلدية عشرات المخالفات"),
    ("مهرجان العسل في أبها يسجل مبيعات قياسية", "سجل مهرجان العسل مبيعات بلغت"),
]


def _region(index: StoryIndex) -> None:
    for k, (title, lead) in enumerate(OTHER):
        index.assign(doc(f"o{k}", title, lead, -6 + k / 2, f"s{k}", ("LOC:ابها", "LOC:عسير")))


def test_hard_negative_same_place_and_emir_different_event_kept_apart() -> None:
    index = StoryIndex()
    _region(index)
    index.assign(doc("a", BOMB, BOMB_LEAD, entities=BOMB_ENTS))
    index.assign(doc("b", BOMB2, BOMB2_LEAD, 1, "alwatan", BOMB_ENTS))
    got = index.assign(doc("f", FEST, FEST_LEAD, 3, "almadina", ("LOC:ابها", "LOC:عسير")))
    assert got.story_id == "f"


def test_shared_dup_group_links_even_without_shared_words() -> None:
    index = StoryIndex()
    index.assign(doc("a", BOMB, BOMB_LEAD))
    got = index.assign(doc("w", "خبر", "نص قصير مختلف تماما", 5, "was", dup="a"))
    assert got.story_id == "a"


def test_window_counts_publication_time_not_wall_time() -> None:
    """A backfill: days apart by `when`, the second copy of the event must not join."""
    index = StoryIndex(window=timedelta(hours=72))
    index.assign(doc("a", BOMB, BOMB_LEAD, entities=BOMB_ENTS))
    late = index.assign(doc("b", BOMB2, BOMB2_LEAD, 24 * 5, "alwatan", BOMB_ENTS, dup="a"))
    assert late.story_id == "b"
    # and a story stays open while articles keep coming within the window of its latest one
    index2 = StoryIndex(window=timedelta(hours=72))
    index2.assign(doc("a", BOMB, BOMB_LEAD, entities=BOMB_ENTS))
    index2.assign(doc("c", SITE, SITE_LEAD, 20, "almadina", BOMB_ENTS, dup="a"))
    got = index2.assign(doc("b", BOMB2, BOMB2_LEAD, 20 + 60, "alwatan", BOMB_ENTS, dup="a"))
    assert got.story_id == "a"


def test_doc_linking_two_stories_merges_smaller_into_larger() -> None:
    index = StoryIndex()
    index.assign(doc("a", BOMB, BOMB_LEAD, entities=BOMB_ENTS))
    index.assign(doc("a2", BOMB, BOMB_LEAD, 1, "was", BOMB_ENTS, dup="a"))
    index.assign(doc("n", TENNIS, TENNIS_LEAD, 1, "okaz"))
    # a copy of the tennis story that also carries the bombing's group: both strong links
    got = index.assign(doc("x", TENNIS, TENNIS_LEAD, 2, "sabq", dup="a"))
    assert got.merged == [("n", "a")]
    assert got.story_id == "a"
    assert index.resolve("n") == "a" and index.resolve("a") == "a"
    assert set(index.stories) == {"a"}


def test_merge_tie_absorbs_the_younger_story() -> None:
    index = StoryIndex()
    index.assign(doc("old", TENNIS, TENNIS_LEAD, 0, "okaz"))
    index.assign(doc("young", BOMB, BOMB_LEAD, 1))
    got = index.assign(doc("x", BOMB, BOMB_LEAD, 2, "was", dup="old"))
    assert ("young", "old") in got.merged


def test_stored_merge_is_followed_when_old_rows_load() -> None:
    index = StoryIndex()
    index.merged("b", "a")
    index.load(doc("b1", BOMB2, BOMB2_LEAD, 0, "alwatan", BOMB_ENTS), "b")
    assert set(index.stories) == {"a"}
    # the other order: rows first, then the merge folds the absorbed story in
    index2 = StoryIndex()
    index2.load(doc("a1", BOMB, BOMB_LEAD, 0), "a")
    index2.load(doc("b1", BOMB2, BOMB2_LEAD, 1, "alwatan"), "b")
    index2.merged("b", "a")
    assert set(index2.stories) == {"a"} and index2.stories["a"].n == 2
    assert index2.assign(doc("c", SITE, SITE_LEAD, 2, "okaz", dup="b1")).story_id == "a"


def _rebuilt(order: list[tuple[StoryDoc, str]]) -> StoryIndex:
    index = StoryIndex()
    for d, sid in order:
        index.load(d, sid)
    return index


def test_assignment_does_not_depend_on_load_order() -> None:
    stored = [
        (doc("a", BOMB, BOMB_LEAD, 0, entities=BOMB_ENTS), "a"),
        (doc("b", BOMB2, BOMB2_LEAD, 1, "alwatan", BOMB_ENTS), "a"),
        (doc("f", FEST, FEST_LEAD, 2, "almadina", ("LOC:ابها",)), "f"),
        (doc("n", TENNIS, TENNIS_LEAD, 3, "okaz"), "n"),
    ]
    new = [
        doc("s", SITE, SITE_LEAD, 4, "sabq", BOMB_ENTS),
        doc("n2", TENNIS, TENNIS_LEAD + " وقال المدرب", 5, "alyaum"),
        doc("f2", FEST, FEST_LEAD, 5, "okaz"),
    ]
    outcomes = set()
    for perm in itertools.permutations(stored):
        index = _rebuilt(list(perm))
        outcomes.add(tuple(index.assign(d).story_id for d in new))
    assert outcomes == {("a", "n", "f")}


def test_trim_forgets_stories_older_than_the_window() -> None:
    index = StoryIndex(window=timedelta(hours=72))
    for k in range(50):
        index.assign(doc(f"d{k}", f"{TENNIS} {k}", TENNIS_LEAD, k * 24.0, f"s{k}", dup=f"g{k}"))
        index.trim()
        assert len(index.stories) <= 5  # the window holds stories of 4 days at most
    live_words = set(index._word_df)
    assert live_words <= {w for s in index.stories.values() for w in s.words}
    assert index._n_docs == sum(s.n for s in index.stories.values())
    assert all(index._sids[k] in index.stories for ids in index._by_word.values() for k in ids)


@pytest.mark.parametrize("threshold", [story_match.JOIN])
def test_score_threshold_is_the_documented_one(threshold: float) -> None:
    """docs/stories.md gives the thresholds; a change must update both."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "stories.md").read_text("utf-8")
    assert f"JOIN = {threshold}" in text


def test_backfill_batch_clusters_behind_the_newest_doc_until_trimmed() -> None:
    """A writer that saw today's news then stores last month's: the old rows it loads and the
    old articles it assigns meet in the index until the batch ends and it trims."""
    index = StoryIndex()
    index.assign(doc("today", TENNIS, TENNIS_LEAD, 24 * 30, "okaz"))
    index.load(doc("a", BOMB, BOMB_LEAD, 0, entities=BOMB_ENTS), "a")
    got = index.assign(doc("b", BOMB2, BOMB2_LEAD, 1, "alwatan", BOMB_ENTS, dup="a"))
    assert got.story_id == "a"
    index.trim()
    assert set(index.stories) == {"today"}


def test_candidate_cut_is_the_best_by_shared_weight_then_id() -> None:
    """The cut to CANDIDATES stories (taken from a short list since the window holds 10k
    stories) must pick what a full sort of every hit picks, ties by story id included."""
    index = StoryIndex()
    for k in range(90):
        keys = (f"PERS:p{k % 11}", f"PERS:p{(k * 7) % 13}", f"LOC:l{k % 5}")
        index.assign(doc(f"s{k:02d}", "", "", k / 60, f"out{k}", keys))
    probe = index._prepare(
        doc("n", "", "", 2.0, entities=("PERS:p1", "PERS:p3", "PERS:p4", "LOC:l2", "LOC:l0"))
    )
    # the summed weight of what each story shares, walked in Python as a dict
    hits: dict[str, float] = {}
    for key in probe.ents:
        for k in index._by_ent.get(key, ()):
            sid = index._sids[k]
            assert sid is not None
            hits[sid] = hits.get(sid, 0.0) + index._idf(index._ent_df[key])
    slots, sums = index._candidates(probe)
    assert {index._sids[k]: v for k, v in zip(slots.tolist(), sums.tolist(), strict=True)} == hits
    assert len(hits) > story_match.CANDIDATES
    assert len(set(hits.values())) < len(hits) // 2  # many ties at the cut
    full = sorted(hits, key=lambda s: (-hits[s], s))[: story_match.CANDIDATES]
    assert sorted(index._scores(probe)) == sorted(full)


def _reference_hits(index: StoryIndex, d: story_match._Doc) -> dict[str, float]:
    """The candidate weights as a plain dict walk over the postings (the pre-numpy code)."""
    cap = max(story_match.MIN_RARE, story_match.RARE * index._n_docs)
    hits: dict[str, float] = {}
    for key, df, by_slot in [(w, index._word_df.get(w, 0), index._by_word) for w in d.words] + [
        (e, index._ent_df.get(e, 0), index._by_ent) for e in d.ents
    ]:
        if 0 < df <= cap:
            for k in by_slot.get(key, ()):
                sid = index._sids[k]
                assert sid is not None
                hits[sid] = hits.get(sid, 0.0) + index._idf(df)
    return hits


_WORDS = ("مسجد", "تفجير", "أبها", "نيمار", "برشلونة", "مهرجان", "عسير", "الطوارئ", "أمير", "15")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(_WORDS), min_size=1, max_size=6),
            st.lists(st.sampled_from(("LOC:ابها", "PERS:نيمار", "ORG:داعش")), max_size=2),
            st.floats(0, 200),
            st.sampled_from(("assign", "load", "trim")),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_slots_stay_consistent_and_candidates_equal_a_dict_walk(ops: list[Any]) -> None:
    """Slots are freed and reused as stories leave the window or merge: after any sequence of
    assign, load and trim, every posting names a live story, and the numpy candidate sums and
    cut equal a plain dict walk and full sort."""
    index = StoryIndex(window=timedelta(hours=24))
    for k, (ws, ents, hours, op, dup) in enumerate(ops):
        d = doc(
            f"a{k:02d}",
            " ".join(ws),
            " ".join(reversed(ws)),
            hours,
            f"s{k % 3}",
            tuple(ents),
            dup="a00" if dup and k else None,
        )
        prepared = index._prepare(d)
        want = _reference_hits(index, prepared)
        slots, sums = index._candidates(prepared)
        got = {index._sids[s]: v for s, v in zip(slots.tolist(), sums.tolist(), strict=True)}
        assert got == want
        best = sorted(want, key=lambda s: (-want[s], s))[: story_match.CANDIDATES]
        assert index._chosen(prepared) == best
        if op == "assign":
            index.assign(d)
        elif op == "load":
            index.load(d, f"old{k % 4}")
        else:
            index.trim()
        live = {
            index._sids[s]
            for ids in (*index._by_word.values(), *index._by_ent.values())
            for s in ids
        }
        assert live <= set(index.stories)
        assert {index._sids[s] for s in index._slot.values()} == set(index.stories)
        assert all(index._slot[index._sids[s] or ""] == s for s in index._slot.values())
