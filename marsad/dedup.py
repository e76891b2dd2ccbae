"""Near-duplicate groups: wire copies and republished articles share a `dup_group`.

Two articles are near-duplicates when their folded titles are equal (and long enough not to
be a rubric like "أخبار"), or when the MinHash estimate of the Jaccard similarity of their
word 3-gram sets reaches `THRESHOLD`. A group's id is the article_id of its first stored
member, so rows never need rewriting when a later copy joins.
"""

from __future__ import annotations

import re
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from datasketch.minhash import MinHash

from marsad.text.arabic import fold_token

NUM_PERM = 128
THRESHOLD = 0.4  # labelled set: same story 0.48-1.0, different stories at most 0.19
SHINGLE = 3
MIN_TITLE_WORDS = 4
MIN_TEXT_WORDS = 20

_NON_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """The NER features' spelling fold (diacritics, alef forms, digits), minus punctuation."""
    return _NON_WORD.sub(" ", fold_token(text)).strip()


def title_key(title: str | None) -> str | None:
    words = fold(title or "").split()
    return " ".join(words) if len(words) >= MIN_TITLE_WORDS else None


def shingles(text: str | None) -> set[bytes]:
    words = fold(text or "").split()
    return {" ".join(words[i : i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)}


_SEED = MinHash(num_perm=NUM_PERM)  # drawing permutations anew costs more than the hashing


def signature(text: str | None) -> MinHash | None:
    grams = shingles(text)
    if len(grams) < MIN_TEXT_WORDS:
        return None
    sig = MinHash(
        num_perm=NUM_PERM,
        hashfunc=zlib.crc32,  # in C: a third of the cost of the default SHA-1 per shingle
        permutations=_SEED.permutations,
        scheme=_SEED.scheme,
    )
    sig.update_batch(list(grams))
    return sig


@dataclass
class DupIndex:
    """Articles seen so far, by folded title and by MinHash; assigns each new one a group.

    Signatures sit in one growing matrix, compared with the new one in a single numpy step:
    exact MinHash estimates for every article in the window, no LSH banding to tune.
    """

    threshold: float = THRESHOLD
    groups: dict[str, str] = field(default_factory=dict)
    _titles: dict[str, str] = field(default_factory=dict)
    _owners: list[str] = field(default_factory=list)
    _sigs: np.ndarray = field(default_factory=lambda: np.empty((64, NUM_PERM), np.uint64))

    def add(self, article_id: str, group: str, title: str | None, text: str | None) -> None:
        if article_id not in self.groups:
            self._add(article_id, group, title, signature(text))

    def _add(self, article_id: str, group: str, title: str | None, sig: MinHash | None) -> None:
        self.groups[article_id] = group
        key = title_key(title)
        if key is not None:
            self._titles.setdefault(key, group)
        if sig is not None:
            n = len(self._owners)
            if n == len(self._sigs):
                self._sigs = np.concatenate([self._sigs, np.empty_like(self._sigs)])
            self._sigs[n] = sig.hashvalues
            self._owners.append(article_id)

    def matches(self, title: str | None, text: str | None) -> set[str]:
        """Groups of indexed articles that the given one near-duplicates."""
        return self._matches(title, signature(text))

    def _matches(self, title: str | None, sig: MinHash | None) -> set[str]:
        found: set[str] = set()
        key = title_key(title)
        if key is not None and key in self._titles:
            found.add(self._titles[key])
        if sig is not None and self._owners:
            n = len(self._owners)
            similar = (self._sigs[:n] == sig.hashvalues).mean(axis=1) >= self.threshold
            found.update(self.groups[self._owners[k]] for k in np.flatnonzero(similar))
        return found

    def assign(self, article_id: str, title: str | None, text: str | None) -> str:
        """The article's group: an existing one it matches (the smallest id), else its own id.

        An article already indexed keeps its group, so re-processing never moves it.
        """
        if article_id in self.groups:
            return self.groups[article_id]
        sig = signature(text)  # once: hashing the shingles is most of the cost
        found = self._matches(title, sig)
        group = min(found) if found else article_id
        self._add(article_id, group, title, sig)
        return group


@dataclass
class DayDupIndex:
    """One DupIndex per publication day; an article is compared with the days around its own.

    Per day rather than one index over a batch's whole date range: one old article in a batch
    (a 2019 page) must neither widen the range to years nor flush the recent days.
    """

    window: timedelta = timedelta(days=3)
    max_days: int = 64  # days kept between batches; the least recently used go first
    threshold: float = THRESHOLD
    _days: OrderedDict[date, DupIndex] = field(default_factory=OrderedDict)

    def around(self, day: date) -> list[date]:
        return [day + timedelta(days=k) for k in range(-self.window.days, self.window.days + 1)]

    def day(self, day: date) -> DupIndex:
        index = self._days.get(day)
        if index is None:
            index = self._days[day] = DupIndex(self.threshold)
        self._days.move_to_end(day)
        return index

    def assign(self, article_id: str, day: date, title: str | None, text: str | None) -> str:
        """As DupIndex.assign, over the articles of the days within `window` of `day`."""
        own = self.day(day)
        if article_id in own.groups:
            return own.groups[article_id]
        sig = signature(text)
        found: set[str] = set()
        for d in self.around(day):
            if d in self._days:
                found |= self._days[d]._matches(title, sig)
        group = min(found) if found else article_id
        own._add(article_id, group, title, sig)
        return group

    def trim(self) -> set[date]:
        """Drop the least recently used days beyond `max_days`; returns the dropped days."""
        dropped = set()
        while len(self._days) > self.max_days:
            dropped.add(self._days.popitem(last=False)[0])
        return dropped
