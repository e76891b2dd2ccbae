from __future__ import annotations

from marsad.tasks.entities import RuleTagger, find_entities, spans_from_bio
from marsad.tasks.normalise import Token

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
