"""Watchlist linking: find aliases in the normalised text, give mentions their `entity_id`.

Matching walks a token trie over the aggressively normalised text, so spelling variants
(أ/إ/ا, ة/ه, ى/ي, diacritics, tatweel) meet. The first word of a mention may carry
proclitics (و ف, then ب ل ك, and لل for ل + ال: وبالناتو, للعراق); they are tried as
alternatives and trimmed out of the mention. Offsets go back through the normalisation map,
so `text[start:end] == entity.text` always holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from marsad.heap import keep_for_life
from marsad.record import Entity
from marsad.text.arabic import WORD_MARKS, normalise, token_words, word_spans
from marsad.text.clitics import clitic_variants
from marsad.watchlist import Key, WatchEntry, Watchlist, load_watchlist

_END = ""  # trie key marking "an alias ends here" (never a token)
# A token trie: each token leads to the next level; the _END key holds the alias's entry.
# Any: a recursive dict that mypy cannot narrow in the hot loop without runtime checks.
Trie = dict[str, Any]
_MARK = re.compile(f"[{WORD_MARKS}]")


@dataclass(frozen=True, slots=True)
class Match:
    start: int  # original offsets of the alias, clitics trimmed
    end: int
    word_start: int  # original offset of the first word, clitics included
    entry: WatchEntry


class Linker:
    """Leftmost-longest alias matching over normalised tokens; built once per watchlist."""

    memo_limit = 200_000  # words whose readings are kept (the memo is emptied past it)

    def __init__(self, watchlist: Watchlist) -> None:
        self.watchlist = watchlist
        self._trie: Trie = {}
        for key, entry in watchlist.keys.items():
            self._add(key, entry)
        # per word: the (stripped, core) readings whose core opens an alias (most: none)
        self._openers: dict[str, tuple[tuple[int, str], ...]] = {}
        self.names = {e.id: display_names(e) for e in watchlist.entries}
        self.entries = {e.id: e for e in watchlist.entries}  # by id, for marsad.places

    def _add(self, key: Key, entry: WatchEntry) -> None:
        node = self._trie
        for tok in key:
            node = node.setdefault(tok, {})
        node[_END] = entry

    def find(self, text: str) -> list[Match]:
        norm = normalise(text, "aggressive")
        words = token_words(norm.text)
        openers = self._known(words)
        # The common case is a word no alias starts with, in any reading: only the others
        # are visited, in order, past the end of the last match.
        starts = [i for i, w in enumerate(words) if openers[w]]
        spans: list[tuple[int, int]] = []  # offsets of the first words, made as matches need
        out: list[Match] = []
        done = 0
        for i in starts:
            if i < done:
                continue
            best: tuple[int, int, WatchEntry] | None = None  # (end token, stripped, entry)
            for stripped, core in openers[words[i]]:
                found = self._longest(core, words, i + 1)
                if found and (best is None or found[0] > best[0]):
                    best = (found[0], stripped, found[1])
            if best is None:
                continue
            end_tok, stripped, entry = best
            if len(spans) < end_tok:
                pos = spans[-1][1] if spans else 0
                spans += word_spans(norm.text, words[len(spans) : end_tok], pos)
            start, end = norm.span_to_original(spans[i][0] + stripped, spans[end_tok - 1][1])
            while end < len(text) and _MARK.match(text[end]):  # keep trailing diacritics
                end += 1
            out.append(Match(start, end, norm.to_original(spans[i][0]), entry))
            done = end_tok
        return out

    def _known(self, words: Sequence[str]) -> dict[str, tuple[tuple[int, str], ...]]:
        """The memo of readings, holding every word of `words`: the ways of reading a word
        (proclitics off) that start an alias, kept per word since news repeats its words (the
        memo is emptied when large, before it is filled)."""
        memo = self._openers  # a thread that empties the memo replaces it: ours stays whole
        here = set(words)
        new = here.difference(memo)
        if len(memo) + len(new) > self.memo_limit:
            memo = self._openers = {}
            new = here
        trie = self._trie
        for word in new:
            memo[word] = tuple((s, c) for s, c in clitic_variants(word) if c in trie)
        return memo

    def _longest(self, first: str, words: Sequence[str], nxt: int) -> tuple[int, WatchEntry] | None:
        node = self._trie.get(first)
        best = None
        k = nxt
        while node is not None:
            if _END in node:
                best = (k, node[_END])
            if k >= len(words):
                break
            node = node.get(words[k])
            k += 1
        return best

    def link(
        self, text: str, entities: Sequence[Entity], level: str = "aggressive"
    ) -> list[Entity]:
        """Merge the model's mentions with the watchlist's; see docs/entities.md for the rules."""
        return merge(text, entities, self.find(text), level)


def display_names(entry: WatchEntry) -> tuple[str, str]:
    """(name, name_en) of a watchlist entity: its first Arabic alias (its `name` when it has
    none) and its `name`. Analysts read the Arabic spelling; the Latin one links to sources."""
    return (entry.ar[0] if entry.ar else entry.name), entry.name


def _mention(
    text: str, start: int, end: int, label: str, entity_id: str | None, level: str
) -> Entity:
    surface = text[start:end]
    return Entity(surface, normalise(surface, level).text, label, start, end, entity_id)


def merge(
    text: str, entities: Sequence[Entity], matches: Sequence[Match], level: str = "aggressive"
) -> list[Entity]:
    """Model spans and watchlist matches, without duplicates.

    - a match that coincides with a model span (up to the clitics) links it: the span takes
      the watchlist's id and type, clitics trimmed;
    - a match that covers model spans replaces them (the model cut a known name short);
    - a model span that contains a match is linked only when both are persons (بايدن inside
      جو بايدن); otherwise it is another entity (جامعة بغداد is not بغداد) and the match is dropped;
    - a match that crosses model spans' boundaries wins over them;
    - a match no model span touches is added with the watchlist's type.
    """
    out = list(entities)  # a mention this changes is replaced by a changed copy
    for m in matches:
        over = [e for e in out if e.start < m.end and m.start < e.end]
        new = _mention(text, m.start, m.end, m.entry.type, m.entry.id, level)
        if len(over) == 1 and m.word_start <= over[0].start <= m.start and over[0].end == m.end:
            out[out.index(over[0])] = new
            continue
        if len(over) == 1 and over[0].start <= m.start and m.end <= over[0].end:
            e = over[0]
            if e.label == m.entry.type == "PERS" and e.entity_id is None:
                out[out.index(e)] = replace(e, entity_id=m.entry.id)
            continue
        for e in over:
            out.remove(e)
        out.append(new)
    out.sort(key=lambda e: (e.start, e.end))
    return out


@cache
def load_linker(path: str | None = None) -> Linker:
    """The linker for a watchlist file (the shipped one for None), built once per process."""
    linker = Linker(load_watchlist(path))
    keep_for_life()
    return linker
