from __future__ import annotations

import pytest
from camel_tools.tokenizers.word import simple_word_tokenize
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.tasks.normalise import _fold_char, normalise, sentences, tokenize


@pytest.mark.parametrize(
    ("raw", "light", "aggressive"),
    [
        ("مُحَمَّد", "محمد", "محمد"),  # diacritics
        ("الخارجيـــة", "الخارجية", "الخارجيه"),  # tatweel; teh marbuta only when aggressive
        ("أحمد إلى آمال", "أحمد إلى آمال", "احمد الي امال"),  # alef forms, alef maksura
        ("ﻻ", "لا", "لا"),  # presentation-form ligature
        ("عام ٢٠٢٠ و۱۴۰۲", "عام 2020 و1402", "عام 2020 و1402"),  # Arabic-Indic, Persian digits
        ("a\u00a0b\u2003c", "a b c", "a b c"),  # exotic spaces
    ],
)
def test_levels(raw: str, light: str, aggressive: str) -> None:
    assert normalise(raw, "light").text == light
    assert normalise(raw, "aggressive").text == aggressive


def test_other_languages_get_nfkc_and_whitespace_only() -> None:
    assert normalise("ﬁne\u2003café", language="en").text == "fine café"
    assert normalise("أحمد", language="en").text == "أحمد"


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="level"):
        normalise("x", "extreme")


def test_span_maps_back_to_original() -> None:
    raw = "قال وزيرُ الخارجيـــة فؤاد حسين"
    norm = normalise(raw)
    i = norm.text.index("فؤاد حسين")
    start, end = norm.span_to_original(i, i + len("فؤاد حسين"))
    assert raw[start:end] == "فؤاد حسين"


ARABICISH = st.text(
    alphabet=st.sampled_from(list("ابتثجحخدذرسشصطعغفقكلمنهويةىأإآؤئءـ ًٌٍَُِّْٰ٠١٢٣۴ﻻﻷﺍﺏ \n.،؛abc")),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(ARABICISH, st.sampled_from(["light", "aggressive"]))
def test_offset_map_is_monotone_and_round_trips(raw: str, level: str) -> None:
    norm = normalise(raw, level)
    offsets = norm.offsets
    assert len(offsets) == len(norm.text)
    assert offsets == sorted(offsets)  # monotone
    for i, o in enumerate(offsets):
        assert 0 <= o < len(raw)
        # the normalised character comes from folding the original character it maps to
        assert norm.text[i] in (_fold_char(raw[o], level) or raw[o]) or norm.text[i] == " "
    # round trip: re-normalising each mapped original slice rebuilds the normalised text
    rebuilt = "".join(
        normalise(raw[o], level).text
        for k, o in enumerate(offsets)
        if k == 0 or o != offsets[k - 1]
    )
    assert rebuilt == norm.text


@pytest.mark.parametrize(
    "text",
    [
        "قال: «داعش»، 2020م في بغداد!",
        "وزير الخارجية (العراقي) فؤاد حسين - أمس؛ الاثنين.",
        "مُحَمَّدٌ رَسُولُ اللهِ",
    ],
)
def test_tokenize_agrees_with_camel_and_keeps_offsets(text: str) -> None:
    toks = tokenize(text)
    assert [t.text for t in toks] == simple_word_tokenize(text)
    for t in toks:
        assert text[t.start : t.end] == t.text


def test_sentences_split_on_punctuation_and_newlines() -> None:
    text = "جملة أولى. جملة ثانية؟ سطر\nسطر آخر"
    sents = sentences(tokenize(text), text)
    assert [[t.text for t in s] for s in sents] == [
        ["جملة", "أولى", "."],
        ["جملة", "ثانية", "؟"],
        ["سطر"],
        ["سطر", "آخر"],
    ]
