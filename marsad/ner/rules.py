"""The rule tagger: titles, organisation heads and a short list of places.

A floor when the statistical model is missing, not the model. Its word lists are data
(`data/rules/*.txt`, one word a line, folded on load), so extending them needs no code.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.resources import files

from marsad.text.arabic import normalise
from marsad.text.clitics import strip_known

LISTS = ("person_triggers", "title_fillers", "org_heads", "places", "known_orgs", "stopwords")


def _fold(word: str) -> str:
    return normalise(word, "aggressive").text


@cache
def word_list(name: str) -> frozenset[str]:
    """A word list of data/rules, aggressively folded; read once per process."""
    if name not in LISTS:
        raise ValueError(f"unknown rule word list {name!r}; one of {LISTS}")
    text = (files("marsad.ner") / "data" / "rules" / f"{name}.txt").read_text(encoding="utf-8")
    return frozenset(_fold(w) for w in text.split() if not w.startswith("#"))


def _is_word(tok: str) -> bool:
    folded = _fold(tok)
    return len(folded) >= 2 and folded.isalpha()


class RuleTagger:
    """Titles (الرئيس، وزير الخارجية) before a name, organisation heads, known places."""

    def __init__(self) -> None:
        self.triggers = word_list("person_triggers")
        self.fillers = word_list("title_fillers")
        self.org_heads = word_list("org_heads")
        self.places = word_list("places")
        self.orgs = word_list("known_orgs")
        self.stop = word_list("stopwords")
        self.known = self.places | self.orgs

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [self._sentence(list(s)) for s in sentences]

    def _sentence(self, toks: list[str]) -> list[str]:
        folded = [_fold(t) for t in toks]
        labels = ["O"] * len(toks)
        i = 0
        while i < len(toks):
            f = strip_known(folded[i], self.known)
            if f in self.places:
                labels[i] = "B-LOC"
            elif f in self.orgs:
                labels[i] = "B-ORG"
            elif f in self.org_heads and i + 1 < len(toks) and _is_word(toks[i + 1]):
                j = i + 1
                while (
                    j < len(toks) and j < i + 4 and _is_word(toks[j]) and folded[j] not in self.stop
                ):
                    j += 1
                labels[i] = "B-ORG"
                for k in range(i + 1, j):
                    labels[k] = "I-ORG"
                i = j
                continue
            elif f in self.triggers:
                j = i + 1
                while j < len(toks) and folded[j] in self.fillers:
                    j += 1
                k = j
                while (
                    k < len(toks)
                    and k < j + 3
                    and _is_word(toks[k])
                    and (folded[k] not in self.stop and folded[k] not in self.triggers)
                ):
                    k += 1
                if k > j:
                    labels[j] = "B-PERS"
                    for m in range(j + 1, k):
                        labels[m] = "I-PERS"
                    i = k
                    continue
            i += 1
        return labels
