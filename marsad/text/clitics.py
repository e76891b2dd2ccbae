"""Arabic proclitics (و ف, then ب ل ك, then the article ال): one inventory, three uses.

- `strip_clitics`: the NER's split of a folded token into (proclitic, stem), by a
  corpus-frequency rule for the one-letter ones;
- `clitic_variants`: every way of reading conjunction + preposition off a word (watchlist
  matching and the rule tagger try each);
- `proclitic_chars`: how many raw characters of a mention's first word are a conjunction or
  preposition, so that a mention starts at the name (وسامراء is سامراء).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from marsad.text.arabic import WORD_MARKS, fold_token

CONJUNCTIONS = ("و", "ف")
PREPOSITIONS = ("ب", "ل", "ك")
PROCLITIC_LETTERS = frozenset("".join(CONJUNCTIONS + PREPOSITIONS))
_CONJ = ("", *CONJUNCTIONS)
_PREP = ("", *PREPOSITIONS)
_MARKS = re.compile(f"[{WORD_MARKS}]*")

# Proclitic strings, longest first: conjunction + preposition + article.
_PROCLITICS = (
    "وبال",
    "وكال",
    "فبال",
    "وللا",
    "فال",
    "وال",
    "بال",
    "كال",
    "لل",
    "ال",
    "و",
    "ف",
    "ب",
    "ل",
    "ك",
)


_NEVER = 1 << 30


def strip_clitics(norm: str, rank: Mapping[str, int] | None = None) -> tuple[str, str]:
    """Split a normalised token into (proclitic, rest), keeping at least 2 letters of stem.

    Article-bearing prefixes are always split. A bare one-letter و ف ب ل ك is split only when
    the rest is a corpus word more frequent than the whole (`rank`: 0 = most frequent), so
    وعلي and بأفغانستان split while فؤاد and وليد stay whole.
    """
    rank = rank or {}
    for pre in _PROCLITICS:
        if norm.startswith(pre) and len(norm) - len(pre) >= 2:
            rest = norm[len(pre) :]
            if len(pre) > 1 or rank.get(rest, _NEVER) < rank.get(norm, _NEVER - 1):
                return pre, rest
    return "", norm


def clitic_variants(token: str) -> Iterator[tuple[int, str]]:
    """(characters stripped, remaining word) for each way of reading proclitics off a token."""
    yield 0, token
    if token[:1] not in PROCLITIC_LETTERS:  # most words: nothing to read off
        return
    for conj in _CONJ:
        if not token.startswith(conj):
            continue
        rest = token[len(conj) :]
        for prep in _PREP:
            if not (conj or prep) or not rest.startswith(prep):
                continue
            core = rest[len(prep) :]
            if len(core) >= 2:
                yield len(conj) + len(prep), core
            if prep == "ل" and core.startswith("ل") and len(core) >= 3:  # لل = ل + ال
                yield len(conj) + 2, "ا" + core


def strip_known(word: str, known: frozenset[str] | set[str], min_len: int = 3) -> str:
    """The word without proclitics when what is left is a known word (بغداد in وبغداد)."""
    for stripped, core in clitic_variants(word):
        if stripped and len(core) >= min_len and core in known:
            return core
    return word


def proclitic_chars(token: str, rank: Mapping[str, int] | None = None) -> int:
    """Characters of a conjunction/preposition (و ف ب ل ك) in front of a name: the mention
    وسامراء is سامراء, والعراق is العراق; the article stays, and so does a word whose first
    letter belongs to it (فؤاد، بغداد: `strip_clitics`' corpus-frequency rule)."""
    pre, _rest = strip_clitics(fold_token(token), rank)
    letters = len(pre) - 2 if pre.endswith("ال") else len(pre)
    if letters <= 0 or pre.endswith("لل"):  # للعراق: ل + (ا)لعراق, nothing clean to cut
        return 0
    i = 0
    for _ in range(letters):  # raw letters, each with the marks (diacritics) riding on it
        m = _MARKS.match(token, i + 1)
        i = m.end() if m else i + 1
    return i
