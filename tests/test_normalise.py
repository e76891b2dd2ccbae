from __future__ import annotations

import pytest
from camel_tools.tokenizers.word import simple_word_tokenize
from hypothesis import given, settings
from hypothesis import strategies as st

from marsad.text.arabic import (
    Token,
    _fold_char,
    normalise,
    normalise_articles,
    sentences,
    token_spans,
    token_words,
    tokenize,
    word_spans,
)


@pytest.mark.parametrize(
    ("raw", "light", "aggressive"),
    [
        ("مُحَمَّد", "محمد", "محمد"),  # diacritics
        ("الخارجيـــة", "الخارجية", "الخارجيه"),  # tatweel; teh marbuta only when aggressive
        ("أحمد إلى آمال", "أحمد إلى آمال", "احمد الي امال"),  # alef forms, alef maksura
        ("ﻻ", "لا", "لا"),  # presentation-form ligature
        ("عام ٢٠٢٠ و۱۴۰۲", "عام 2020 و1402", "عام 2020 و1402"),  # Arabic-Indic, Persian digits
        ("a\u00a0b\u2003c", "a b c", "a b c"),  # exotic spaces
        ("مسؤول مسئول", "مسؤول مسئول", "مسءول مسءول"),  # hamza seats fold when aggressive
        ("کتاب یوم كييڤ", "کتاب یوم كييڤ", "كتاب يوم كييف"),  # Persian letters, veh
        ("في\u200f بغداد\u200c", "في بغداد", "في بغداد"),  # invisible format marks
        ("ﻷن ﷲ", "لأن الله", "لان الله"),  # ligatures, including a one-to-many one
        ("𝐀① ﬁ", "A1 fi", "A1 fi"),  # NFKC beyond the Arabic blocks
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
    i = norm.text.index("فءاد حسين")
    start, end = norm.span_to_original(i, i + len("فءاد حسين"))
    assert raw[start:end] == "فؤاد حسين"
    j = norm.text.index("الخارجيه")
    start, end = norm.span_to_original(j, j + len("الخارجيه"))
    assert raw[start:end] == "الخارجيـــة"


ARABICISH = st.text(
    alphabet=st.sampled_from(
        [
            *"ابتثجحخدذرسشصطعغفقكلمنهويةىأإآؤئءـ ًٌٍَُِّْٰ٠١٢٣۴ﻻﻷﺍﺏ \n.،؛abc",
            *["\u200f", "\u200c", "\u00a0", "ﷲ", "ی", "ک", "ڤ", "\u0654", "ﬁ", "_", "«", "»", "$"],
            *["😀", "\U0001d400", "\u0301", "\u2028", "\x1f", "٪", "²"],
        ]
    ),
    max_size=200,
)
LEVELS = st.sampled_from(["light", "aggressive"])


@settings(max_examples=300, deadline=None)
@given(ARABICISH, LEVELS)
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


def _sentences_token_by_token(tokens: list[Token], text: str, max_len: int) -> list[list[Token]]:
    """The rule, read token by token: a sentence ends after an end mark, after a token with a
    newline between it and the next token, or at `max_len` tokens."""
    out: list[list[Token]] = []
    cur: list[Token] = []
    for i, tok in enumerate(tokens):
        cur.append(tok)
        gap = text[tok.end : tokens[i + 1].start] if i + 1 < len(tokens) else ""
        if tok.text in {".", "!", "?", "؟", "…"} or "\n" in gap or len(cur) >= max_len:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


SENTENCE_TEXTS = st.lists(
    st.sampled_from(
        ["كتب", "ab", " ", "  ", "\n", "\n\n", ".", "؟", "…", "!", "،", "\t", "\u200f"]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), SENTENCE_TEXTS, ARABICISH))
def test_word_spans_are_the_token_spans(text: str) -> None:
    assert word_spans(text, token_words(text)) == token_spans(text)
    # and going on from a prefix's spans (the linker makes them as its matches need them)
    words, spans = token_words(text), token_spans(text)
    for k in range(1, len(words)):
        assert word_spans(text, words[k:], spans[k - 1][1]) == spans[k:]


@settings(max_examples=300, deadline=None)
@given(SENTENCE_TEXTS, st.integers(1, 6))
def test_sentences_follow_the_rule_token_by_token(text: str, max_len: int) -> None:
    """`sentences` finds boundaries per end mark and per newline; the result is the rule's."""
    toks = tokenize(text)
    got = sentences(toks, text, max_len)
    assert got == _sentences_token_by_token(toks, text, max_len)
    assert [t for s in got for t in s] == toks and all(0 < len(s) <= max_len for s in got)


@settings(max_examples=200, deadline=None)
@given(ARABICISH, LEVELS)
def test_normalising_twice_changes_nothing(raw: str, level: str) -> None:
    once = normalise(raw, level).text
    assert normalise(once, level).text == once


@settings(max_examples=200, deadline=None)
@given(ARABICISH)
def test_aggressive_is_coarser_than_light(raw: str) -> None:
    """Folding the light form aggressively is the aggressive form: the levels nest."""
    assert normalise(normalise(raw, "light").text, "aggressive").text == normalise(raw).text


@settings(max_examples=200, deadline=None)
@given(ARABICISH, LEVELS)
def test_every_normalised_token_maps_to_an_original_span(raw: str, level: str) -> None:
    norm = normalise(raw, level)
    last_end = 0
    for tok in tokenize(norm.text):
        start, end = norm.span_to_original(tok.start, tok.end)
        assert 0 <= start < end <= len(raw)
        assert start >= last_end or raw[start] == "ﷲ"  # spans follow each other...
        last_end = end
        refolded = normalise(raw[start:end], level).text
        if "ﷲ" in raw[start:end]:  # ...unless a ligature expanded into several words
            assert tok.text in refolded
        else:
            assert refolded == tok.text


@settings(max_examples=300, deadline=None)
@given(ARABICISH)
def test_tokenize_agrees_with_camel_on_any_text(raw: str) -> None:
    toks = tokenize(raw)
    assert [t.text for t in toks] == simple_word_tokenize(raw)
    assert all(raw[t.start : t.end] == t.text for t in toks)


def test_normalise_articles_uses_the_level_and_the_language() -> None:
    from datetime import UTC, datetime

    from marsad.record import Article

    now = datetime.now(UTC)
    ar = Article("u1", "s", now, text="إلى الخارجيـة", language="ar")
    en = Article("u2", "s", now, text="ﬁne إلى", language="en")
    empty = Article("u3", "s", now)
    done = normalise_articles([ar, en, empty], "aggressive")
    assert [a.text_norm for a in done] == ["الي الخارجيه", "fine إلى", None]
    assert normalise_articles([ar], "light")[0].text_norm == "إلى الخارجية"


def test_symbols_are_never_letters_or_digits() -> None:
    """tokenize's fast path takes letter and digit runs whole: that needs this to hold."""
    from marsad.text.arabic import _SPACES, _SYMBOLS

    assert not any(c.isalnum() for c in _SYMBOLS + _SPACES)
