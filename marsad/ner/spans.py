"""Span conventions applied to the tagger's BIO labels.

Two layers, because ANERcorp (what the tagger learns and is scored on) and the analyst's view
disagree on some boundaries (counts in docs/ner.md, "Span conventions"):

- `anercorp_repair`: fixes that agree with ANERcorp's own labelling (titles and offices are O;
  a name after محافظة/مدينة/حي/قضاء/ناحية is a place), safe to apply before scoring;
- `display_labels`: that, plus what ANERcorp leaves out but a reader expects in a name: the
  head noun of a natural feature (مضيق باب المندب, not المندب) and ministries, agencies,
  authorities and universities (وزارة التعليم العالي), which ANERcorp labels O (43 of 43
  وزارة in train). Applied when entities are built, never before scoring.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from marsad.ner.conll import spans
from marsad.text.arabic import WORD_MARKS, fold_token

_MARKS = re.compile(f"[{WORD_MARKS}]*")


def _folded(words: Sequence[str]) -> frozenset[str]:
    return frozenset(fold_token(w) for w in words)


# Titles and offices ANERcorp keeps outside PERS (train: الرئيس 162 of 162 O, الشيخ 46 of 51).
TITLES = _folded(
    [
        "الامير",
        "الأمير",
        "الملك",
        "الملكة",
        "الشيخ",
        "الشيخة",
        "الرئيس",
        "الرئيسة",
        "السيد",
        "السيدة",
        "الدكتور",
        "الدكتورة",
        "العاهل",
        "الوزير",
        "الوزيرة",
        "المستشار",
        "السفير",
        "اللواء",
        "العميد",
        "العقيد",
        "الفريق",
        "المشير",
        "الجنرال",
        "الحاكم",
        "المحافظ",
        "النائب",
        "الإمام",
        "البابا",
        "المطران",
        "القاضي",
        "الأستاذ",
        "البروفيسور",
        "الزعيم",
        "سمو",
        "صاحب",
        "جلالة",
        "فخامة",
        "معالي",
        "سعادة",
        "المتحدث",
        "الناطق",
        "المبعوث",
        "المندوب",
    ]
)
# Office heads whose next definite word is the office (وزير الخارجية، ولي العهد).
OFFICES = _folded(["وزير", "وزيرة", "ولي", "نائب", "رئيس", "رئيسة", "الأمين"])
# Words before a name that make it a place (train: after مدينة 91 B-LOC, 1 B-PERS).
PLACE_TRIGGERS = _folded(["محافظة", "مدينة", "حي", "قضاء", "ناحية", "بلدة", "قرية"])
# Natural-feature nouns that belong to the name they precede (shown, not scored: ANERcorp
# labels نهر O before a place 11 times, inside it twice).
GEO_HEADS = _folded(["مضيق", "خليج", "جبل", "نهر", "بحر", "بحيرة", "جزيرة", "جزر", "وادي", "صحراء"])
# Heads of organisation names ANERcorp leaves O (وزارة 43/43, وكالة 12 O vs 3 ORG).
ORG_HEADS = _folded(["وزارة", "وكالة", "هيئة", "جامعة"])
# Bodies an office is held in, for a title that names one (الأمين العام لمجلس التعاون).
BODY_HEADS = ORG_HEADS | _folded(
    [
        "مجلس",
        "منظمة",
        "أمم",
        "اتحاد",
        "حلف",
        "صندوق",
        "بنك",
        "مركز",
        "حركة",
        "حزب",
        "جيش",
        "قوات",
        "محكمة",
        "لجنة",
        "مفوضية",
        "رئاسة",
        "أركان",
    ]
)
_STOP = _folded(
    [
        "في",
        "من",
        "الى",
        "إلى",
        "على",
        "عن",
        "مع",
        "الذي",
        "التي",
        "الذين",
        "ان",
        "أن",
        "إن",
        "او",
        "أو",
        "ثم",
        "قد",
    ]
)
_CLITICS = ("و", "ف", "ب", "ل", "وب", "ول", "فب", "فل")


_CORES = TITLES | OFFICES | PLACE_TRIGGERS | GEO_HEADS | ORG_HEADS
_HEADS = GEO_HEADS | ORG_HEADS


@lru_cache(maxsize=65536)  # run on every shown token: fold once per word type
def _core(token: str) -> str:
    """Folded token without a one-letter conjunction/preposition (والأمير → الامير)."""
    f = fold_token(token)
    if f[:1] in "وفبل":  # every clitic starts with one of these
        for pre in _CLITICS:
            if f.startswith(pre) and f[len(pre) :] in _CORES:
                return f[len(pre) :]
    return f


@lru_cache(maxsize=65536)
def _definite(token: str) -> bool:
    f = fold_token(token)
    return f.startswith(("ال", "وال", "لل", "بال")) and len(f) > 3 and f.isalpha()


@lru_cache(maxsize=65536)
def _nisba(token: str) -> bool:
    """A definite relative adjective (العراقي، السعودية), as a nationality is written."""
    f = fold_token(token)
    return _definite(token) and len(f) > 4 and f.endswith(("ي", "يه"))


def _relabel(labels: list[str], start: int, end: int, etype: str) -> None:
    labels[start:end] = ["B-" + etype] + ["I-" + etype] * (end - start - 1)


def title_span(tokens: Sequence[str], start: int, end: int) -> int:
    """How many leading tokens of the span [start, end) are a title or office, not the name.

    The name keeps at least one token; an office head takes its definite complement with it
    (ولي العهد، وزير الخارجية), then further titles may follow (ولي العهد الأمير ...), and a
    nationality after a title belongs to it, as in `title_before` (ولي العهد السعودي الأمير).
    """
    i = start
    while i < end - 1:
        core = _core(tokens[i])
        if core in TITLES:
            i += 1
        elif core in OFFICES:
            i += 2 if i + 2 < end and _definite(tokens[i + 1]) else 1
        elif i > start and _nisba(tokens[i]):
            i += 1
        else:
            break
    return i - start


def title_before(tokens: Sequence[str], start: int) -> int:
    """Where the run of titles and offices just before a name starting at `start` begins
    (`start` when there is none): what `Entity.title` shows (`title_start`).

    A nationality after a title or office belongs to it (وزير الخارجية العراقي، العاهل
    الأردني الملك), but only when a title comes before it: الأمريكي alone is no title."""
    i = j = start  # i: the run's start so far; j: with the adjectives still pending
    while j > 0:
        if _core(tokens[j - 1]) in TITLES:
            i = j = j - 1
        elif j > 1 and _definite(tokens[j - 1]) and _core(tokens[j - 2]) in OFFICES:
            i = j = j - 2
        elif _core(tokens[j - 1]) in OFFICES:
            i = j = j - 1
        elif i - j < 2 and _nisba(tokens[j - 1]):
            j -= 1
        else:
            break
    return i


def _body_word(token: str) -> bool:
    """Whether a word names a body (مجلس، لمجلس، للأمم، الجيش، بالبنك ...)."""
    f = fold_token(token)
    return any(v in BODY_HEADS for v in (f, f[1:], f[2:], f[3:]))


def office_of_body(tokens: Sequence[str], labels: Sequence[str], start: int) -> int:
    """Where an office held in a named body begins when it ends just before `start`
    (الأمين العام لمجلس التعاون الخليجي، المتحدث باسم وزارة الخارجية، رئيس مجلس الوزراء
    العراقي), else `start`. The body (up to 4 words, tagged or not, never a person) must
    follow a title or office directly, or after باسم."""
    for k in range(start - 1, max(start - 4, 0) - 1, -1):
        f = fold_token(tokens[k])
        if f in _STOP or not f.isalpha() or labels[k][2:] == "PERS":
            return start
        if _body_word(tokens[k]):
            head = k - 1 if k > 0 and fold_token(tokens[k - 1]) == "باسم" else k
            first = title_before(tokens, head)
            return first if first < head else start
    return start


def title_start(tokens: Sequence[str], labels: Sequence[str], start: int) -> int:
    """`title_before`, kept to the untagged words: a title word inside another entity
    (جامعة الملك ...) belongs to that entity, not to the name after it; failing that, an
    office held in a named body (`office_of_body`), which may be tagged as written."""
    first = title_before(tokens, start)
    if first == start:
        return office_of_body(tokens, labels, start)
    tagged = [k for k in range(first, start) if labels[k] != "O"]
    if tagged:  # again after the last tagged word: the run must still begin with a title
        cut = tagged[-1] + 1
        first = cut + title_before(tokens[cut:start], start - cut)
    return first


def title_clitic_chars(token: str) -> int:
    """Characters of a conjunction/preposition on a title's first word (والرئيس: و), so the
    title starts at the title; only where `_core` recognised one (ولي stays whole)."""
    letters = len(fold_token(token)) - len(_core(token))
    i = 0
    for _ in range(max(letters, 0)):  # raw letters, each with the marks riding on it
        m = _MARKS.match(token, i + 1)
        i = m.end() if m else i + 1
    return i


def anercorp_repair(tokens: Sequence[str], labels: Sequence[str]) -> list[str]:
    """Labels with titles cut from PERS spans and a PERS name after a place trigger made LOC."""
    out = list(labels)
    if "B-PERS" not in out and "I-PERS" not in out:  # most sentences: nothing to repair
        return out
    for s, e, t in spans(out):
        if t != "PERS":
            continue
        cut = title_span(tokens, s, e)
        if cut:
            out[s : s + cut] = ["O"] * cut
            _relabel(out, s + cut, e, "PERS")
            s += cut
        if s > 0 and out[s - 1] == "O" and _core(tokens[s - 1]) in PLACE_TRIGGERS:
            _relabel(out, s, e, "LOC")
    return out


def _name_after(tokens: Sequence[str], labels: Sequence[str], i: int, limit: int) -> int:
    """End of an untagged name after position i: words up to the first definite one."""
    j = i + 1
    while j < len(tokens) and j <= i + limit and labels[j] == "O":
        f = fold_token(tokens[j])
        if f in _STOP or not f.isalpha():
            return i + 1
        if _definite(tokens[j]):
            return j + 1
        j += 1
    return i + 1


def _org_after(tokens: Sequence[str], labels: Sequence[str], i: int) -> int:
    """End of an untagged organisation name after its head: definite words, or و + word
    before a definite one (هيئة الرقابة ومكافحة الفساد)."""
    j = i + 1
    while (
        j < len(tokens) and j <= i + 5 and labels[j] == "O" and fold_token(tokens[j]) not in _STOP
    ):
        nxt_definite = j + 1 < len(tokens) and _definite(tokens[j + 1])
        if _definite(tokens[j]) or (fold_token(tokens[j])[:1] == "و" and nxt_definite):
            j += 1
        else:
            break
    end = j
    while end > i + 1 and not _definite(tokens[end - 1]):
        end -= 1
    return end


def head_span(tokens: Sequence[str], labels: Sequence[str], i: int) -> tuple[int, str] | None:
    """(end, type) of the span a natural-feature or organisation head at i starts, if any."""
    core = _core(tokens[i])
    if core in GEO_HEADS:
        if i + 1 < len(labels) and labels[i + 1] == "B-LOC":
            end = i + 2
            while end < len(labels) and labels[end] == "I-LOC":
                end += 1
        else:
            end = _name_after(tokens, labels, i, 3)
        return (end, "LOC") if end > i + 1 else None
    if core in ORG_HEADS:
        end = _org_after(tokens, labels, i)
        return (end, "ORG") if end > i + 1 else None
    return None


def display_labels(tokens: Sequence[str], labels: Sequence[str]) -> list[str]:
    """`anercorp_repair`, then natural-feature heads and organisation heads joined to names."""
    out = anercorp_repair(tokens, labels)
    # Only a head word can start a span: visit those, in order (the words of a span just
    # made are no longer O, so they are passed over).
    for i in [i for i, t in enumerate(tokens) if _core(t) in _HEADS]:
        found = head_span(tokens, out, i) if out[i] == "O" else None
        if found:
            _relabel(out, i, found[0], found[1])
    return out
