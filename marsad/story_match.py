"""Stories: articles about one real-world event, across outlets and days (issue 15).

A new article is compared with the stories whose latest article lies within `window` of its
publication time: TF-IDF cosine of light-stemmed title+lead words against the story's summed
vector, plus the IDF-weighted share of its entity keys the story also has. Document
frequencies are counted over the stories in the window, so the IDF follows the news without a
shipped table. Candidates come from an inverted index over the rarer words and entities, never
a scan of all stories. A shared `dup_group` is a link by itself. Thresholds: docs/stories.md.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain

import numpy as np

from marsad.story_features import terms

JOIN = 0.30  # score to join the best story (docs/stories.md)
MERGE = 0.60  # score with a second story that merges it with the first
ENTITY_WEIGHT = 0.25  # weight of the entity share against the word cosine
ENTITY_FLOOR = 6.0  # about two rare entities' weight (ln of a few hundred live articles each)
GAP_PENALTY = 0.25  # score lost a day of gap beyond GRACE since the story's last article
GRACE = 1.0  # days
CANDIDATES = 24  # stories scored in full, chosen by shared rare keys
RARE = 0.05  # a key in more than this share of live articles does not nominate candidates
MIN_RARE = 20
_NO_SLOTS = np.zeros(0, np.intp)
_NO_SUMS = np.zeros(0)


@dataclass(frozen=True, slots=True)
class StoryDoc:
    article_id: str
    when: datetime  # UTC; published_at, else fetched_at (the writer decides)
    source: str
    title: str | None
    text_norm: str | None  # normalised text; the title and lead are used
    entities: tuple[str, ...]  # entity keys: entity_id when linked, else f"{label}:{norm}"
    dup_group: str | None  # marsad.dedup's group (article_id of first stored copy)


@dataclass(slots=True)
class Assignment:
    story_id: str
    merged: list[tuple[str, str]]  # (absorbed story_id, surviving story_id) decided by this doc


@dataclass(slots=True)
class _Story:
    """Sums over a story's articles: commutative, so loading order cannot change them."""

    story_id: str
    first: datetime
    last: datetime
    n: int = 0
    sources: Counter[str] = field(default_factory=Counter)
    words: Counter[str] = field(default_factory=Counter)  # summed term counts
    docs_with: Counter[str] = field(default_factory=Counter)  # articles holding each word
    ents: Counter[str] = field(default_factory=Counter)  # articles holding each entity key
    dups: set[str] = field(default_factory=set)
    norm: float | None = None  # cached; dropped when the story changes


@dataclass(slots=True)
class _Doc:
    doc: StoryDoc
    words: Counter[str]
    ents: frozenset[str]


class StoryIndex:
    """Stories whose latest article is within `window` of the newest doc seen."""

    def __init__(self, window: timedelta = timedelta(hours=72)) -> None:
        self.window = window
        self.newest: datetime | None = None
        self.stories: dict[str, _Story] = {}
        self._alias: dict[str, str] = {}  # absorbed story -> the one it merged into
        self._word_df: Counter[str] = Counter()  # live articles holding each word
        self._ent_df: Counter[str] = Counter()
        self._n_docs = 0
        # postings hold a live story's slot (a small int, reused once the story is gone), so
        # that a doc's candidates are summed by numpy over arrays of ints
        self._by_word: dict[str, set[int]] = {}
        self._by_ent: dict[str, set[int]] = {}
        self._slot: dict[str, int] = {}
        self._sids: list[str | None] = []  # slot -> story_id
        self._free: list[int] = []
        self._by_dup: dict[str, set[str]] = {}
        self._expiry: list[tuple[datetime, str]] = []  # (last, story): lazy min-heap

    # --- public interface -------------------------------------------------------------------

    def load(self, doc: StoryDoc, story_id: str) -> None:
        """An already-stored article and its stored story (rebuilding the index after restart)."""
        self._see(doc.when)
        self._add(self._prepare(doc), self.resolve(story_id))

    def merged(self, absorbed: str, into: str) -> None:
        """A stored merge (so load() of old rows follows merged_into)."""
        target = self.resolve(into)
        if target == absorbed:
            return
        self._alias[absorbed] = target
        if absorbed in self.stories:
            self._absorb(absorbed, target)

    def assign(self, doc: StoryDoc) -> Assignment:
        """A new article: join the best story in the window, or open a new one (story_id =
        the doc's article_id, so ids are stable and unique). If the doc links two live stories
        strongly, the smaller (ties: younger) is absorbed into the other."""
        self._see(doc.when)  # no trim here: a backfill batch's loaded rows must stay until
        prepared = self._prepare(doc)  # the caller trims after the batch
        scored = sorted(
            ((-score, sid) for sid, score in self._scores(prepared).items() if score >= JOIN),
        )
        if not scored:
            self._add(prepared, doc.article_id)
            return Assignment(doc.article_id, [])
        best = scored[0][1]
        merges: list[tuple[str, str]] = []
        for neg, sid in scored[1:]:
            if -neg < MERGE:
                break
            a, b = self.resolve(best), self.resolve(sid)
            if a == b:
                continue
            absorbed, into = self._loser(a, b)
            self._alias[absorbed] = into
            self._absorb(absorbed, into)
            merges.append((absorbed, into))
        story = self.resolve(best)
        self._add(prepared, story)
        return Assignment(story, merges)

    def trim(self) -> None:
        """Forget stories whose last article is older than newest-seen - window (memory bound)."""
        if self.newest is None:
            return
        cutoff = self.newest - self.window
        while self._expiry and self._expiry[0][0] < cutoff:
            last, sid = heapq.heappop(self._expiry)
            story = self.stories.get(sid)
            if story is not None and story.last == last:
                self._drop(story)
        # aliases of forgotten stories are kept only while they can still be looked up
        if len(self._alias) > 4 * len(self.stories) + 1024:
            self._alias = {a: t for a, t in self._alias.items() if t in self.stories}

    def resolve(self, story_id: str) -> str:
        """Follow merges to the surviving story."""
        seen = story_id
        while seen in self._alias:
            seen = self._alias[seen]
        return seen

    # --- internals --------------------------------------------------------------------------

    def _see(self, when: datetime) -> None:
        if self.newest is None or when > self.newest:
            self.newest = when

    def _prepare(self, doc: StoryDoc) -> _Doc:
        return _Doc(doc, terms(doc.title, doc.text_norm), frozenset(doc.entities))

    def _idf(self, df: int) -> float:
        return math.log((self._n_docs + 1) / (df + 1)) + 1.0

    def _norm(self, story: _Story) -> float:
        if story.norm is None:  # _idf written out: this sum runs over every word of a story
            get, log, n1 = self._word_df.get, math.log, self._n_docs + 1
            story.norm = math.sqrt(
                sum([(c * (log(n1 / (get(w, 0) + 1)) + 1.0)) ** 2 for w, c in story.words.items()])
            )
        return story.norm

    def _candidates(self, d: _Doc) -> tuple[np.ndarray, np.ndarray]:
        """Slots of the stories sharing a rare word or entity with the doc, and the summed IDF
        of what each shares (common keys nominate nobody: their postings are long and say
        little). One `bincount` over the concatenated postings: per slot it adds the weights
        in key order from 0.0, the same additions a dict walk makes, so the sums are equal."""
        cap = max(MIN_RARE, RARE * self._n_docs)
        postings: list[set[int]] = []
        weights: list[float] = []
        for key, df, index in [(w, self._word_df.get(w, 0), self._by_word) for w in d.words] + [
            (e, self._ent_df.get(e, 0), self._by_ent) for e in d.ents
        ]:
            holders = index.get(key)
            if 0 < df <= cap and holders:
                postings.append(holders)
                weights.append(self._idf(df))
        if not postings:
            return _NO_SLOTS, _NO_SUMS
        lengths = [len(h) for h in postings]
        slots = np.fromiter(chain.from_iterable(postings), np.intp, sum(lengths))
        sums = np.bincount(
            slots, weights=np.repeat(np.array(weights), lengths), minlength=len(self._sids)
        )
        touched = np.flatnonzero(sums)  # every weight is >= 1: a touched slot is not 0
        return touched, sums[touched]

    def _chosen(self, d: _Doc) -> list[str]:
        """The CANDIDATES stories with the most shared weight, ties by story id."""
        slots, sums = self._candidates(d)
        if len(slots) > CANDIDATES:  # sort only the stories that can make the cut
            floor = np.partition(sums, len(sums) - CANDIDATES)[len(sums) - CANDIDATES]
            keep = sums >= floor
            slots, sums = slots[keep], sums[keep]
        sids = self._sids
        ranked = sorted(zip((-sums).tolist(), (sids[k] for k in slots.tolist()), strict=True))
        return [sid for _, sid in ranked[:CANDIDATES] if sid is not None]

    def _scores(self, d: _Doc) -> dict[str, float]:
        lo = d.doc.when - self.window
        hi = d.doc.when + self.window
        chosen = self._chosen(d)
        if d.doc.dup_group is not None:
            chosen.extend(self._by_dup.get(d.doc.dup_group, ()))
        get, log, n1 = self._word_df.get, math.log, self._n_docs + 1
        idf = {w: log(n1 / (get(w, 0) + 1)) + 1.0 for w in d.words}  # = self._idf(df)
        dw = {w: c * idf[w] for w, c in d.words.items()}
        dnorm = math.sqrt(sum(v * v for v in dw.values())) or 1.0
        # doc weight times the word's IDF, once: the story side is a raw count
        dwi = [(w, v * idf[w]) for w, v in dw.items()]
        # entity weights without IDF's +1: a key every live article has weighs nothing, and the
        # share is of at least ENTITY_FLOOR, so a doc naming only common places scores little
        n = self._n_docs + 1
        ew = {e: math.log(n / (self._ent_df.get(e, 0) + 1)) for e in d.ents}
        etotal = max(sum(ew.values()), ENTITY_FLOOR)
        out: dict[str, float] = {}
        for sid in sorted(set(chosen)):
            story = self.stories[sid]
            if story.last < lo or story.first > hi:
                continue
            if d.doc.dup_group is not None and d.doc.dup_group in story.dups:
                out[sid] = math.inf
                continue
            words = story.words  # absent words add +0.0 in the same order: skipping them is exact
            dot = sum([v * words[w] for w, v in dwi if w in words])
            cos = dot / (dnorm * (self._norm(story) or 1.0))
            ent = sum(v for e, v in ew.items() if e in story.ents) / etotal
            gap = abs((d.doc.when - story.last).total_seconds()) / 86400.0
            out[sid] = cos + ENTITY_WEIGHT * ent - GAP_PENALTY * max(0.0, gap - GRACE)
        return out

    def _loser(self, a: str, b: str) -> tuple[str, str]:
        """(absorbed, survivor): the smaller story goes; ties: the younger, then the larger id."""
        sa, sb = self.stories[a], self.stories[b]
        rank_a, rank_b = (sa.n, -sa.first.timestamp()), (sb.n, -sb.first.timestamp())
        if rank_a > rank_b or (rank_a == rank_b and a < b):
            return b, a
        return a, b

    def _add(self, d: _Doc, story_id: str) -> None:
        story = self.stories.get(story_id)
        when = d.doc.when
        if story is None:
            story = self.stories[story_id] = _Story(story_id, when, when)
            self._take_slot(story_id)
        slot = self._slot[story_id]
        story.first = min(story.first, when)
        if when > story.last or story.n == 0:
            story.last = when
        heapq.heappush(self._expiry, (story.last, story_id))
        story.n += 1
        story.norm = None
        story.sources[d.doc.source] += 1
        story.words.update(d.words)
        story.docs_with.update(d.words.keys())
        story.ents.update(d.ents)
        self._n_docs += 1
        self._word_df.update(d.words.keys())
        self._ent_df.update(d.ents)
        for w in d.words:
            self._by_word.setdefault(w, set()).add(slot)
        for e in d.ents:
            self._by_ent.setdefault(e, set()).add(slot)
        if d.doc.dup_group is not None:
            story.dups.add(d.doc.dup_group)
            self._by_dup.setdefault(d.doc.dup_group, set()).add(story_id)
        story.dups.add(d.doc.article_id)  # later copies name this article as their group
        self._by_dup.setdefault(d.doc.article_id, set()).add(story_id)

    def _take_slot(self, story_id: str) -> None:
        slot = self._free.pop() if self._free else len(self._sids)
        if slot == len(self._sids):
            self._sids.append(story_id)
        else:
            self._sids[slot] = story_id
        self._slot[story_id] = slot

    def _unindex(self, story: _Story) -> None:
        """Take the story out of every posting and free its slot."""
        slot = self._slot.pop(story.story_id)
        for by_slot, keys in ((self._by_word, story.words), (self._by_ent, story.ents)):
            for key in keys:
                holders = by_slot.get(key)
                if holders is not None:
                    holders.discard(slot)
                    if not holders:
                        del by_slot[key]
        for key in story.dups:
            named = self._by_dup.get(key)
            if named is not None:
                named.discard(story.story_id)
                if not named:
                    del self._by_dup[key]
        self._sids[slot] = None
        self._free.append(slot)

    def _drop(self, story: _Story) -> None:
        self._unindex(story)
        self._word_df.subtract(story.docs_with)
        self._ent_df.subtract(story.ents)
        for counter, keys in ((self._word_df, story.docs_with), (self._ent_df, story.ents)):
            for key in keys:
                if counter[key] <= 0:
                    del counter[key]
        self._n_docs -= story.n
        del self.stories[story.story_id]

    def _absorb(self, absorbed: str, into: str) -> None:
        """Fold one live story's sums into another (a merge, or old rows of a merged story)."""
        gone = self.stories.pop(absorbed)
        self._unindex(gone)
        story = self.stories.get(into)
        if story is None:
            story = self.stories[into] = _Story(into, gone.first, gone.last)
            self._take_slot(into)
        slot = self._slot[into]
        story.first = min(story.first, gone.first)
        story.last = max(story.last, gone.last) if story.n else gone.last
        story.n += gone.n
        story.norm = None
        for mine, theirs in (
            (story.sources, gone.sources),
            (story.words, gone.words),
            (story.docs_with, gone.docs_with),
            (story.ents, gone.ents),
        ):
            mine.update(theirs)
        story.dups |= gone.dups
        for key in gone.words:
            self._by_word.setdefault(key, set()).add(slot)
        for key in gone.ents:
            self._by_ent.setdefault(key, set()).add(slot)
        for key in gone.dups:
            self._by_dup.setdefault(key, set()).add(into)
        heapq.heappush(self._expiry, (story.last, into))
