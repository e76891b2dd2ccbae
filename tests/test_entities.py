from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from marsad import entities
from marsad.entities import find_entities, spans_from_bio, tag_articles
from marsad.linking import load_linker
from marsad.ner.backends import load_default_tagger, tagger_for
from marsad.ner.rules import RuleTagger
from marsad.record import Article
from marsad.settings import Settings
from marsad.text.arabic import Token
from marsad.text.clitics import proclitic_chars

SENTENCE = (
    "أكد وزير الخارجية العراقي فؤاد حسين، أن الحوارات مستمرة مع حلف «الناتو» "
    "في بغداد. وقال المتحدث باسم العمليات المشتركة اللواء تحسين الخفاجي إن العمليات مستمرة."
)


def _toks(*words: str) -> list[Token]:
    out, pos = [], 0
    for w in words:
        out.append(Token(w, pos, pos + len(w)))
        pos += len(w) + 1
    return out


def test_spans_from_bio_joins_and_splits() -> None:
    toks = _toks("a", "b", "c", "d", "e")
    labels = ["B-PERS", "I-PERS", "I-LOC", "O", "B-ORG"]
    assert spans_from_bio(toks, labels) == [(0, 3, "PERS"), (4, 5, "LOC"), (8, 9, "ORG")]


def test_stray_inside_label_starts_an_entity() -> None:
    toks = _toks("a", "b")
    assert spans_from_bio(toks, ["O", "I-MISC"]) == [(2, 3, "MISC")]


def test_offsets_index_the_original_text() -> None:
    ents = find_entities(SENTENCE, RuleTagger())
    assert ents
    for e in ents:
        assert SENTENCE[e.start : e.end] == e.text
        assert e.label in {"PERS", "LOC", "ORG", "MISC"}


def test_rule_tagger_finds_titled_people_places_and_orgs() -> None:
    found = {(e.text, e.label) for e in find_entities(SENTENCE, RuleTagger())}
    assert ("فؤاد حسين", "PERS") in found
    assert ("تحسين الخفاجي", "PERS") in found
    assert ("بغداد", "LOC") in found
    assert any(label == "ORG" and "الناتو" in text for text, label in found)


def test_norm_is_the_normalised_surface() -> None:
    ents = find_entities("قال الرئيس أحمدُ الأنصاري في القاهرة.", RuleTagger())
    person = next(e for e in ents if e.label == "PERS")
    assert person.norm == "احمد الانصاري"


def test_backends_are_chosen_by_name() -> None:
    assert isinstance(tagger_for("rules"), RuleTagger)
    assert tagger_for("crf") is load_default_tagger()  # the bundled model, or rules without it
    with pytest.raises(ValueError, match="ner_backend must be one of"):
        tagger_for("spacy")
    with pytest.raises(ValidationError, match="ner_backend"):
        Settings(ner_backend="spacy")


def test_linking_fills_entity_id_and_adds_what_the_tagger_missed() -> None:
    plain = find_entities(SENTENCE, RuleTagger())
    assert all(e.entity_id is None for e in plain)
    linked = find_entities(SENTENCE, RuleTagger(), linker=load_linker())
    ids = {(e.text, e.label, e.entity_id) for e in linked}
    assert ("الناتو", "ORG", "Q7184") in ids
    assert ("بغداد", "LOC", "Q1530") in ids
    assert ("فؤاد حسين", "PERS", None) in ids  # people the watchlist does not list stay unlinked
    assert len(linked) >= len(plain)


class FlakyTagger:
    """Fails on any sentence mentioning كسر; tags nothing otherwise."""

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        if any("كسر" in tok for s in sentences for tok in s):
            raise RuntimeError("tagger broke")
        return [["O"] * len(s) for s in sentences]


def test_one_bad_article_becomes_a_failure_and_the_batch_goes_on() -> None:
    now = datetime.now(UTC)
    good = Article("https://a.example/1", "src", now, text="زار الوفد العراق.", run_id="r")
    bad = Article("https://a.example/2", "src", now, text="كسر الوفد القاعدة.", run_id="r")
    done, failed = tag_articles([good, bad], tagger=FlakyTagger())
    assert done == [good]
    assert [(e.text, e.entity_id) for e in good.entities] == [("العراق", "Q796")]
    assert [(f.url, f.stage, f.error) for f in failed] == [
        ("https://a.example/2", "tag", "RuntimeError: tagger broke")
    ]


def test_ner_neural_setting_chooses_crf_alone() -> None:
    crf_only = tagger_for("crf", neural=False)
    assert getattr(crf_only, "neural", "missing") is None  # the CRF, no network
    assert tagger_for("crf", neural=False) is crf_only  # loaded once
    tokens = ["وصل", "الرئيس", "الفرنسي", "إلى", "بغداد", "أمس", "."]
    assert crf_only.tag([tokens])[0][4] == "B-LOC"


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("وسامراء", "سامراء"),
        ("وَسامراء", "سامراء"),  # the conjunction's vowel goes with it
        ("والعراق", "العراق"),  # the article stays
        ("وبالناتو", "الناتو"),
        ("للعراق", "للعراق"),  # ل + (ا)لعراق: no clean cut
        ("بغداد", "بغداد"),  # ب belongs to the name
        ("فؤاد", "فؤاد"),
    ],
)
def test_proclitics_are_cut_from_mentions(word: str, name: str) -> None:
    rank = load_default_tagger().featurizer.res.rank
    assert word[proclitic_chars(word, rank) :] == name


def test_mentions_carry_no_conjunction() -> None:
    text = "زار الوزير بغداد وسامراء والموصل أمس."
    ents = find_entities(text, tagger_for("crf"))
    assert all(text[e.start : e.end] == e.text for e in ents)
    assert not any(e.text.startswith("و") for e in ents)
    assert {"بغداد", "سامراء"} <= {e.text for e in ents if e.label == "LOC"}


class BatchTagger(FlakyTagger):
    """Tags documents in one pass, as the bundled tagger does; the pass fails as a whole."""

    def __init__(self) -> None:
        self.passes: list[int] = []

    def tag_docs(self, docs: Sequence[Sequence[Sequence[str]]]) -> list[list[list[str]]]:
        self.passes.append(len(docs))
        return [self.tag(d) for d in docs]


def _articles(texts: Sequence[str]) -> list[Article]:
    now = datetime.now(UTC)
    return [Article(f"https://a.example/{i}", "s", now, text=t) for i, t in enumerate(texts)]


def test_a_failed_batch_pass_is_retried_article_by_article() -> None:
    arts = _articles(["زار الوفد العراق.", "كسر الوفد القاعدة.", "زار الوفد بغداد."])
    tagger = BatchTagger()
    done, failed = tag_articles(arts, tagger=tagger)
    assert tagger.passes == [3, 1, 1, 1]  # one pass for the chunk, then one per article
    assert done == [arts[0], arts[2]]
    assert [e.text for e in arts[2].entities] == ["بغداد"]
    assert [(f.url, f.error) for f in failed] == [(arts[1].url, "RuntimeError: tagger broke")]


def test_articles_are_tagged_in_chunks_read_lazily() -> None:
    texts = ["زار الوفد العراق." * 40] * 7  # 680 characters each
    read: list[int] = []

    def stream() -> Iterator[Article]:
        for i, art in enumerate(_articles(texts)):
            read.append(i)
            yield art

    chunks = entities.chunks(stream(), chars=2000)
    first = next(chunks)
    assert len(first) == 3 and read == [0, 1, 2]  # no article read past the first chunk
    assert [len(c) for c in chunks] == [3, 1]
    tagger = BatchTagger()
    done, failed = tag_articles(_articles(texts), tagger=tagger)
    assert len(done) == 7 and not failed
    assert tagger.passes == [7]  # 4,760 characters: one pass under the default chunk size
    assert all(len(a.entities) == 40 for a in done)


def test_loaded_models_are_frozen_and_later_garbage_still_collected() -> None:
    import gc
    import weakref

    load_default_tagger()
    load_linker()
    assert gc.get_freeze_count() > 100_000  # the models and what they import, walked never

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # type: ignore[attr-defined]
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None  # a cycle made after the freeze is freed as before
