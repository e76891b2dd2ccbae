"""B-cubed scores of story assignments on the labelled set, and the two baselines.

B-cubed (Bagga and Baldwin 1998): for each article, precision is the share of its predicted
story that truly belongs with it, recall the share of its true story found in its predicted
one; both are averaged over articles and F1 is their harmonic mean.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import timedelta

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from story_data import Item

from marsad.story_match import StoryIndex

WINDOW = timedelta(hours=72)


def bcubed(pred: Mapping[str, str], truth: Mapping[str, str]) -> tuple[float, float, float]:
    pairs = Counter((pred[a], truth[a]) for a in truth)
    pred_size = Counter(pred[a] for a in truth)
    true_size = Counter(truth.values())
    p = sum(n * n / pred_size[pc] for (pc, _tc), n in pairs.items()) / len(truth)
    r = sum(n * n / true_size[tc] for (_pc, tc), n in pairs.items()) / len(truth)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run_days(items: Sequence[Item], window: timedelta = WINDOW) -> dict[str, str]:
    """The matcher as the writer runs it: one run a day, each starting from a fresh index
    rebuilt from the stored rows (load, merged) of the window, as after a restart."""
    by_day: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        by_day[it.day].append(it)
    stored: dict[str, str] = {}  # article_id -> story_id as written
    docs = {it.doc.article_id: it.doc for it in items}
    merges: list[tuple[str, str]] = []
    for day in sorted(by_day):
        index = StoryIndex(window)
        batch = sorted(by_day[day], key=lambda it: (it.doc.when, it.doc.article_id))
        start = batch[0].doc.when - window - timedelta(days=1)
        for absorbed, into in merges:
            index.merged(absorbed, into)
        for aid, sid in stored.items():
            if docs[aid].when >= start:
                index.load(docs[aid], sid)
        for it in batch:
            got = index.assign(it.doc)
            stored[it.doc.article_id] = got.story_id
            merges += got.merged
        index.trim()
    final = StoryIndex(window)
    for absorbed, into in merges:
        final.merged(absorbed, into)
    return {aid: final.resolve(sid) for aid, sid in stored.items()}


def dup_only(items: Sequence[Item]) -> dict[str, str]:
    return {it.doc.article_id: it.doc.dup_group or it.doc.article_id for it in items}


def title_tfidf(
    items: Sequence[Item], threshold: float, window: timedelta = WINDOW
) -> dict[str, str]:
    """Baseline: an article joins the story of its most similar earlier title within the
    window when their char 3-5-gram TF-IDF cosine reaches `threshold` (IDF fitted on the set)."""
    order = sorted(items, key=lambda it: (it.doc.when, it.doc.article_id))
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    matrix = vec.fit_transform([it.doc.title or "" for it in order])
    sims = (matrix @ matrix.T).toarray()
    story: dict[str, str] = {}
    for k, it in enumerate(order):
        best, best_sim = None, threshold
        for j in range(k):
            if it.doc.when - order[j].doc.when <= window and sims[k, j] >= best_sim:
                best, best_sim = j, sims[k, j]
        aid = it.doc.article_id
        story[aid] = story[order[best].doc.article_id] if best is not None else aid
    return story


def best_title_threshold(items: Sequence[Item]) -> tuple[float, tuple[float, float, float]]:
    """The title baseline at its best threshold on this very set (an upper bound for it)."""
    truth = {it.doc.article_id: it.story for it in items}
    scored = [
        (bcubed(title_tfidf(items, float(t)), truth), float(t))
        for t in np.round(np.arange(0.10, 0.95, 0.05), 2)
    ]
    (prf, t) = max(scored, key=lambda s: s[0][2])
    return t, prf
