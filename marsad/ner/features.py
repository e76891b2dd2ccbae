"""CRF features: per word type (computed once and cached), plus context windows.

Per-token features depend only on the token, so they are computed once per word type and
cached; a sentence then costs little more than list concatenation. That is what keeps tagging
fast in pure Python.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from marsad.ner.context import add_context
from marsad.text.arabic import fold_token
from marsad.text.clitics import _PROCLITICS, strip_clitics

_DIGITS = re.compile(r"[0-9]")
_ARABIC = re.compile(r"[\u0621-\u064A]")
_LATIN = re.compile(r"[A-Za-z]")


def shape(token: str) -> str:
    """Coarse word shape: Arabic has no capitals, so script and digits are what is left."""
    if _ARABIC.search(token):
        return "ar" if not _DIGITS.search(token) else "arnum"
    if _LATIN.search(token):
        return "lat" if token[:1].isupper() else "latlow"
    if _DIGITS.search(token):
        return "num"
    return "punct"


@dataclass
class Resources:
    """Lookups learnt outside the labelled data, keyed by normalised word."""

    clusters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rank: dict[str, int] = field(default_factory=dict)
    gaz_tokens: dict[str, tuple[str, ...]] = field(default_factory=dict)
    gaz_phrases: dict[str, str] = field(default_factory=dict)
    triggers: dict[str, str] = field(default_factory=dict)
    max_phrase: int = 1
    phrase_prefixes: frozenset[str] = frozenset()


_CTX_OFFSETS = (-2, -1, 1, 2)
# (attribute prefix, whether the view is the near one) per neighbour offset, in that order
_VIEWS = tuple((f"{off}:", abs(off) == 1) for off in _CTX_OFFSETS)
_AFFIXES = tuple((k, f"p{k}=", f"x{k}=", f"sp{k}=", f"sx{k}=") for k in (1, 2, 3))
_CL = tuple(f"c{i}=" for i in range(16))  # clusters have 3 levels (clusters.py)
_SCL = tuple(f"sc{i}=" for i in range(16))
_CLITIC_FIRST = frozenset(p[:1] for p in _PROCLITICS)
# A word type's attributes: its own, then the views it gives neighbours at -2, -1, +1, +2,
# then (normalised word, clitic-stripped stem).
TypeFeats = tuple[tuple[str, ...], ...]


def opens_phrase(form: Sequence[str], res: Resources) -> bool:
    """Whether a gazetteer phrase can start at a word of this (norm, stem) form: a sentence
    with no such word gets no phrase tags (`Featurizer.phrase_tags`)."""
    return form[0] in res.phrase_prefixes or form[1] in res.phrase_prefixes


class Featurizer:
    """Turns tokenised sentences into crfsuite feature lists."""

    def __init__(
        self,
        res: Resources,
        cache_size: int = 300_000,
        keep: frozenset[str] | None = None,
        context: bool = True,
    ) -> None:
        """`keep`: the attributes a trained model weighs; others are dropped once per word type
        (same tags, about half the strings for crfsuite to look up). `context`: add the
        sentence-level features of `context.py` (quotes, sports, place triggers)."""
        self.res = res
        self.keep = keep
        self.context = context
        # Tuples of strings, never lists: the collector stops tracking them, so a full cache
        # (tens of thousands of types) costs its full collections nothing.
        self._cache: dict[str, TypeFeats] = {}
        self._cache_size = cache_size

    @property
    def keep(self) -> frozenset[str] | None:
        """The attributes kept (None: all)."""
        return self._keep

    @keep.setter
    def keep(self, keep: frozenset[str] | None) -> None:
        # what follows an offset prefix in `keep`: a word's view attributes are mostly
        # unweighted, and one set look-up per base attribute rules them out for all 4 views
        self._keep = keep
        prefixes = tuple(p for p, _ in _VIEWS)
        self._view_bases = frozenset(
            a.split(":", 1)[1] for a in keep or () if a.startswith(prefixes)
        )

    def _type_feats(self, token: str) -> TypeFeats:
        """Own features plus pre-prefixed views of this word for each neighbour offset."""
        res = self.res
        n = fold_token(token)
        # every proclitic starts with one of these letters: skip the search for other words
        pre, stem = strip_clitics(n, res.rank) if n[:1] in _CLITIC_FIRST else ("", n)
        split = stem != n
        own = ["b", "w=" + n, "sh=" + shape(token), "len=" + str(min(len(n), 8))]
        if split:
            own += ["s=" + stem, "pre=" + pre]
        ln, ls = len(n), len(stem)
        for k, p, x, sp, sx in _AFFIXES:
            if ln > k:
                own += [p + n[:k], x + n[-k:]]
            if split and ls > k + 1:
                own += [sp + stem[:k], sx + stem[-k:]]
        cl = res.clusters.get(n)
        scl = res.clusters.get(stem) if split else None
        if cl is None and scl is not None:
            cl, scl = scl, None
        if cl is not None:
            own += [c + v for c, v in zip(_CL, cl, strict=False)]
        else:
            own.append("c=none")
        if scl is not None:
            own += [c + v for c, v in zip(_SCL, scl, strict=False)]
        gaz_n = res.gaz_tokens.get(n, ())
        gaz_s = res.gaz_tokens.get(stem, ()) if split else ()
        gaz = sorted({*gaz_n, *("s" + g for g in gaz_s)}) if gaz_n or gaz_s else []
        own += ["g=" + g for g in gaz]
        trig = res.triggers.get(n) or res.triggers.get(stem)
        if trig:
            own.append("t=" + trig)
        w = "w=" + n
        near = [w]
        if split:
            near.append("s=" + stem)
        if cl is not None:
            near += [c + v for c, v in zip(_CL[:2], cl, strict=False)]
        if trig:
            near.append("t=" + trig)
        near += ["g=" + g for g in gaz if g[:1] != "s"]
        far = [w, "c0=" + cl[0]] if cl is not None else [w]
        keep = self.keep
        if keep is None:
            views = tuple([p + f for f in (near if near1 else far)] for p, near1 in _VIEWS)
        else:
            own = [f for f in own if f in keep]
            bases = self._view_bases
            near = [f for f in near if f in bases]
            far = [f for f in far if f in bases]
            if near or far:
                views = tuple(
                    [a for f in (near if near1 else far) if (a := p + f) in keep]
                    for p, near1 in _VIEWS
                )
            else:
                views = ([], [], [], [])
        return (tuple(own), *map(tuple, views), (n, stem))

    def type_feats(self, token: str) -> TypeFeats:
        """Cached `_type_feats`; the cache is reset when full rather than tracked LRU."""
        hit = self._cache.get(token)
        if hit is None:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            hit = self._cache[token] = self._type_feats(token)
        return hit

    def phrase_tags(self, norms: Sequence[str], stems: Sequence[str]) -> list[str | None]:
        """Longest-match gazetteer phrases (multi-word places, organisations, people) as BIO.

        A phrase may start at the word or at its clitic-stripped stem (وبغداد, للأمم المتحدة).
        """
        res = self.res
        out: list[str | None] = [None] * len(norms)
        i = 0
        n = len(norms)
        while i < n:
            best = 0
            btype = ""
            for first in (norms[i], stems[i]):
                if first not in res.phrase_prefixes:
                    continue
                phrase = first
                for j in range(i + 1, min(n, i + res.max_phrase)):
                    phrase += " " + norms[j]
                    if phrase not in res.phrase_prefixes:
                        break
                    t = res.gaz_phrases.get(phrase)
                    if t and j + 1 - i > best:
                        best, btype = j + 1 - i, t
            if best:
                out[i] = "B-" + btype
                for j in range(i + 1, i + best):
                    out[j] = "I-" + btype
                i += best
            else:
                i += 1
        return out

    def sentence(self, tokens: Sequence[str]) -> list[list[str]]:
        """Feature lists for one sentence, with a ±2 window and phrase-gazetteer tags."""
        cache = self._cache
        per = [cache.get(t) or self.type_feats(t) for t in tokens]
        n = len(per)
        out: list[list[str]] = []
        for i, feats in enumerate(per):
            out.append(
                [
                    *feats[0],
                    *(per[i - 2][1] if i >= 2 else ()),
                    *(per[i - 1][2] if i >= 1 else ("BOS",)),
                    *(per[i + 1][3] if i + 1 < n else ("EOS",)),
                    *(per[i + 2][4] if i + 2 < n else ()),
                ]
            )
        forms = [f[5] for f in per]
        if self.context:
            add_context(tokens, forms, self.res.gaz_tokens, out)
        if self.res.phrase_prefixes:
            self.add_phrases(forms, out)
        return out

    def add_phrases(self, forms: Sequence[Sequence[str]], out: list[list[str]]) -> None:
        """Append the gazetteer phrase tags at 0 and ±1 to each token's attributes (one
        place for the CRF's training features and the fast path's sentence-level sums)."""
        n = len(out)
        for i, ph in enumerate(self.phrase_tags([f[0] for f in forms], [f[1] for f in forms])):
            if ph:
                out[i].append("ph=" + ph)
                if i > 0:
                    out[i - 1].append("1:ph=" + ph)
                if i + 1 < n:
                    out[i + 1].append("-1:ph=" + ph)
