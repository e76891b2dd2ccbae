"""Arabic normalisation with an offset map back to the original text.

Every folding is decided per character (camel-tools' functions applied to each
code point once, then cached in a translation table), so the whole text is
rewritten by `str.translate` in C and the offset map only has to record the
few places where a character vanished (diacritics, tatweel) or expanded
(presentation-form ligatures such as ﻻ → لا).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from itertools import chain
from typing import NamedTuple

from camel_tools.utils.charsets import UNICODE_PUNCT_SYMBOL_CHARSET
from camel_tools.utils.dediac import dediac_ar
from camel_tools.utils.normalize import (
    normalize_alef_ar,
    normalize_alef_maksura_ar,
    normalize_teh_marbuta_ar,
    normalize_unicode,
)

from marsad.record import Article, Failure

LEVELS = ("light", "aggressive")
TATWEEL = "\u0640"
# Arabic-Indic (U+0660..) and Extended/Persian (U+06F0..) digits.
_DIGITS = {chr(0x0660 + i): str(i) for i in range(10)} | {
    chr(0x06F0 + i): str(i) for i in range(10)
}
# Aggressive level only: hamza seats fold to the bare hamza (مسؤول = مسئول, شؤون = شئون),
# detached hamza marks drop, and Persian/Urdu letters typed on other keyboards become the
# Arabic ones (ی ک ہ ۀ), as do the letters used for foreign sounds (ڤ پ چ گ ژ: كييڤ = كييف).
_AGGRESSIVE_EXTRA = {
    "ؤ": "ء",
    "ئ": "ء",
    "\u0654": "",
    "\u0655": "",
    "ی": "ي",
    "ک": "ك",
    "ہ": "ه",
    "ۀ": "ه",
    "ڤ": "ف",
    "پ": "ب",
    "چ": "ج",
    "گ": "ك",
    "ژ": "ز",
}
# Invisible format characters (zero-width, bidi controls, BOM): dropped at both levels.
_INVISIBLE = set("\u200b\u200c\u200d\u200e\u200f\u061c\u2060\ufeff") | {
    chr(c) for c in chain(range(0x202A, 0x202F), range(0x2066, 0x206A))
}
# Code points given camel-tools' Arabic folding: Arabic blocks, presentation forms,
# Latin ligatures/full-width forms, and exotic spaces. Every other code point of the BMP
# (and the mathematical and enclosed alphanumerics) gets NFKC and whitespace folding.
_RANGES = (
    (0x00A0, 0x00A1),
    (0x0600, 0x0700),
    (0x0750, 0x0780),
    (0x08A0, 0x0900),
    (0x2000, 0x2010),
    (0x2028, 0x2030),
    (0x205F, 0x2061),
    (0x3000, 0x3001),
    (0xFB00, 0xFB07),
    (0xFB50, 0xFE00),
    (0xFE70, 0xFEFF),
    (0xFF01, 0xFF5F),
)
# Marks that survive in words: Arabic diacritics, Quranic marks, tatweel.
WORD_MARKS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
# simple_word_tokenize's rule as one regex (so tokens keep offsets): split on whitespace,
# then every punctuation or symbol character is a token of its own.
_SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_SYMBOLS = "".join(sorted(c for c in UNICODE_PUNCT_SYMBOL_CHARSET if len(c) == 1))


def _char_class(chars: str) -> str:
    """Chars as a regex class body of ranges: sre scans astral members one by one, so 8,560
    single characters made tokenize 17x slower than these ~800 ranges (bench/throughput.py)."""
    cps = sorted(set(map(ord, chars)))
    runs: list[list[int]] = []
    for cp in cps:
        if runs and runs[-1][1] == cp - 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    return "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in runs)


# Letters and digits are never punctuation or symbols (tests/test_normalise.py checks it), so
# runs of them are taken whole (`[^\W_]+`, checked in C); only the rare other characters
# (marks, format characters) meet the symbol class: 3x faster again than one negated class.
_TOKEN_RE = re.compile(rf"(?>[^\W_]+|(?!\s)(?![{_char_class(_SYMBOLS)}]).)+|\S", re.S)


_LINE_SPACE = "\t\n\r\x0b\x0c"  # kept as they are: line structure matters to sentence splitting


def _fold_space(ch: str) -> str:
    return ch if ch in _LINE_SPACE else " "


def _fold_char(ch: str, level: str) -> str:
    if ch.isspace():
        return _fold_space(ch)
    if ch in _DIGITS:
        return _DIGITS[ch]
    if ch == TATWEEL or ch in _INVISIBLE:
        return ""
    out = normalize_unicode(ch)  # NFKC plus camel's ligature fixes (ﻻ → لا)
    out = dediac_ar(out)
    out = out.replace(TATWEEL, "")
    out = "".join(_DIGITS.get(c, c) for c in out)
    if level == "aggressive":
        out = "".join(_AGGRESSIVE_EXTRA.get(c, c) for c in out)
        out = str(normalize_teh_marbuta_ar(normalize_alef_maksura_ar(normalize_alef_ar(out))))
    return out


def _fold_other(ch: str) -> str:
    """Non-Arabic text gets NFKC and whitespace only (and loses invisible format marks)."""
    if ch.isspace():
        return _fold_space(ch)
    if ch in _INVISIBLE:
        return ""
    return unicodedata.normalize("NFKC", ch)


def _in_ranges(cp: int) -> bool:
    return any(lo <= cp < hi for lo, hi in _RANGES)


def _candidates() -> Iterable[int]:
    """The BMP without surrogates, plus the astral alphanumerics NFKC folds to ASCII."""
    bmp = chain(range(0xD800), range(0xE000, 0x10000))
    return chain(bmp, range(0x1D400, 0x1D800), range(0x1F100, 0x1F250))


@cache
def _tables(level: str, arabic: bool) -> tuple[dict[int, str], re.Pattern[str] | None]:
    if level not in LEVELS:
        raise ValueError(f"normalise level must be one of {LEVELS}, got {level!r}")
    table: dict[int, str] = {}
    for cp in _candidates():
        ch = chr(cp)
        if arabic and _in_ranges(cp):
            out = _fold_char(ch, level)
        elif unicodedata.is_normalized("NFKC", ch) and not ch.isspace() and ch not in _INVISIBLE:
            continue  # the common case, decided in C
        else:
            out = _fold_other(ch)
        if out != ch:
            table[cp] = out
    changing = "".join(chr(cp) for cp, out in table.items() if len(out) != 1)
    return table, (re.compile("[" + _char_class(changing) + "]") if changing else None)


@dataclass(frozen=True, slots=True)
class Normalised:
    """Normalised text plus a piecewise-linear map from its offsets to the original's.

    Segment k starts at normalised offset `norm_starts[k]` and original offset
    `orig_starts[k]`; inside a segment offsets advance together.
    """

    text: str
    original: str
    norm_starts: tuple[int, ...]
    orig_starts: tuple[int, ...]

    def to_original(self, i: int) -> int:
        """Original offset of the character at normalised offset i (0 <= i < len)."""
        if not 0 <= i < len(self.text):
            raise IndexError(i)
        k = bisect_right(self.norm_starts, i) - 1
        return self.orig_starts[k] + (i - self.norm_starts[k])

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open normalised span to the smallest original span covering it."""
        if start >= end:
            raise ValueError("empty span")
        return self.to_original(start), self.to_original(end - 1) + 1

    @property
    def offsets(self) -> list[int]:
        """The full map, one original offset per normalised character (for tests, debugging)."""
        return [self.to_original(i) for i in range(len(self.text))]


def normalise(text: str, level: str = "aggressive", language: str | None = "ar") -> Normalised:
    arabic = language in (None, "ar", "fa", "ur")
    table, pattern = _tables(level, arabic)
    out = text.translate(table)
    norm_starts = [0]
    orig_starts = [0]
    if pattern is not None:
        delta = 0  # len(norm prefix) - len(orig prefix)
        for m in pattern.finditer(text):
            p = m.start()
            rep = table[ord(text[p])]
            q = p + delta
            for j in range(len(rep)):  # an expansion: each output char maps back to p
                norm_starts.append(q + j)
                orig_starts.append(p)
            norm_starts.append(q + len(rep))
            orig_starts.append(p + 1)
            delta += len(rep) - 1
    # Drop segments that are empty (several starting at the same normalised offset):
    # the last one wins, since it is where the next character really comes from.
    ns: list[int] = []
    os_: list[int] = []
    for n, o in zip(norm_starts, orig_starts, strict=True):
        if ns and ns[-1] == n:
            ns[-1], os_[-1] = n, o
        else:
            ns.append(n)
            os_.append(o)
    return Normalised(out, text, tuple(ns), tuple(os_))


class Token(NamedTuple):
    """A token and its offsets; a named tuple because articles make millions of them."""

    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split words from punctuation, keeping offsets; the tokens are simple_word_tokenize's.

    Only multi-code-point emoji sequences differ: camel keeps 👍🏽 whole, we split it.
    """
    new = tuple.__new__  # Token's own __new__ is a Python function: a call per token more
    return [new(Token, (m.group(), m.start(), m.end())) for m in _TOKEN_RE.finditer(text)]


_SENT_END = {".", "!", "?", "؟", "\n", "…"}


def token_words(text: str) -> list[str]:
    """The texts of `tokenize(text)`, without offsets: several times cheaper."""
    return _TOKEN_RE.findall(text)


def token_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of `tokenize(text)`."""
    return [m.span() for m in _TOKEN_RE.finditer(text)]


def word_spans(text: str, words: Sequence[str], pos: int = 0) -> list[tuple[int, int]]:
    """`token_spans(text)` from `words = token_words(text)`, without a second regex pass:
    tokens hold no whitespace and only whitespace lies between them, so each word is the first
    occurrence of itself at or after the previous one's end (`pos`: the end of the word
    before `words[0]`, to go on from a prefix's spans)."""
    out: list[tuple[int, int]] = []
    find = text.find
    for w in words:
        start = find(w, pos)
        pos = start + len(w)
        out.append((start, pos))
    return out


def sentences(tokens: list[Token], text: str, max_len: int = 120) -> list[list[Token]]:
    """Group tokens into sentences on end punctuation or newlines; bounded length for the tagger.

    A sentence ends after an end mark, after the last token before a newline, and after
    `max_len` tokens without either. The boundaries are found per end mark and per newline
    rather than per token (most tokens are neither)."""
    if not tokens:
        return []
    ends = {i for i, t in enumerate(tokens) if t.text in _SENT_END}
    starts = [t.start for t in tokens]
    newline = text.find("\n", tokens[0].end)  # one before the first token ends nothing
    while newline >= 0:
        k = bisect_right(starts, newline) - 1  # the token before it (tokens hold no space)
        ends.add(k)
        if k + 1 >= len(tokens):
            break
        newline = text.find("\n", starts[k + 1])
    ends.add(len(tokens) - 1)
    out: list[list[Token]] = []
    first = 0
    for end in sorted(ends):
        for a in range(first, end + 1, max_len):
            out.append(tokens[a : min(a + max_len, end + 1)])
        first = end + 1
    return out


def normalise_articles(
    articles: Iterable[Article],
    level: str = "aggressive",
    failures: list[Failure] | None = None,
) -> list[Article]:
    """Fill `text_norm` for a batch; other languages get NFKC and whitespace only.

    Given a `failures` list, an article whose normalisation raises is left out and becomes one
    row there (stage "normalise"), so one article never costs the batch; without it (callers
    that keep the old return value) the error propagates."""
    done = []
    for art in articles:
        try:
            if art.text is not None:
                art.text_norm = normalise(art.text, level, art.language).text
        except Exception as exc:
            if failures is None:
                raise
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            failures.append(
                Failure(
                    art.url,
                    art.source,
                    "normalise",
                    reason,
                    art.attempts,
                    art.run_id,
                    datetime.now(UTC),
                )
            )
            continue
        done.append(art)
    return done


# --- per-token fold (NER features, near-duplicate keys) ---------------------------------------

_TOKEN_DIACRITICS = "".join(chr(c) for c in range(0x064B, 0x0653)) + "\u0670\u0640\u0654\u0655"
_TOKEN_FOLD = {
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ى": "ي",
    "ة": "ه",
    "ؤ": "ء",
    "ئ": "ء",
}
_TOKEN_TABLE: dict[int, int | str | None] = {ord(c): None for c in _TOKEN_DIACRITICS}
_TOKEN_TABLE.update({ord(k): v for k, v in _TOKEN_FOLD.items()})
_TOKEN_TABLE.update({0x0660 + i: str(i) for i in range(10)})  # Arabic-Indic digits
_TOKEN_TABLE.update({0x06F0 + i: str(i) for i in range(10)})  # Persian digits
_TOKEN_TABLE.update({0xFEFB: "لا", 0xFEFC: "لا", 0xFEF5: "لا", 0xFEF7: "لا", 0xFEF9: "لا"})
_ASCII_DIGIT = re.compile(r"[0-9]")


@lru_cache(maxsize=1 << 17)  # news repeats its words; the tagger, spans and keys fold each
def fold_token(token: str) -> str:
    """Fold what varies in news spelling (diacritics, tatweel, alef/yeh/teh-marbuta, digits) in
    one token, without an offset map: the NER's features and the near-duplicate keys use it."""
    return _ASCII_DIGIT.sub("0", token.translate(_TOKEN_TABLE)).lower()
