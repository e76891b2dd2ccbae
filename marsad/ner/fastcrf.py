"""CRF marginals in numpy from the model's own weights, without pycrfsuite's per-token calls.

A token's CRF state score is the sum of the weights of its attributes, and most of the
attribute list the featurizer builds is made of per-type parts (own features and the views a
word gives its neighbours at -2, -1, +1, +2). So the 5 x 9 score block of a word type is
computed once and cached; a sentence's scores are then 5 array additions plus a look-up of the
few sentence-level attributes (BOS/EOS, phrases, context), and forward-backward runs for all
sentences of a call at once (one numpy step per position of the longest). Same quantities as
`pycrfsuite.Tagger.marginal`, to within the 6 decimals `info()` gives the weights in (marginals
differ by < 1e-5).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pycrfsuite

from marsad.ner.decode import LABEL_INDEX, LABELS
from marsad.ner.features import Featurizer

_K = len(LABELS)
_OFFSETS = (-2, -1, 1, 2)  # views 1..4 of `Featurizer.type_feats`, as `Featurizer.sentence`


class CrfScorer:
    """Per-type cached state scores and batched forward-backward for one CRF model."""

    def __init__(
        self, crf: pycrfsuite.Tagger, featurizer: Featurizer, cache_size: int = 100_000
    ) -> None:
        """`cache_size`: word types whose scores are kept (~0.5 kB each; 20k types cover 92%
        of the tokens of the benchmark articles)."""
        info = crf.info()
        self.weights: dict[str, np.ndarray] = {}
        for (attr, label), w in info.state_features.items():
            if w:
                self.weights.setdefault(attr, np.zeros(_K))[LABEL_INDEX[label]] = w
        trans = np.zeros((_K, _K))
        for (prev, cur), w in info.transitions.items():
            trans[LABEL_INDEX[prev], LABEL_INDEX[cur]] = w
        self.trans = trans
        self._exp_trans = np.exp(trans - trans.max())  # a constant shift cancels out
        self.featurizer = featurizer
        self._zero = np.zeros(_K)
        self._cache: dict[str, np.ndarray] = {}
        self._cache_size = cache_size

    def _score(self, attrs: Sequence[str]) -> np.ndarray:
        w = self.weights
        found = [w[a] for a in attrs if a in w]
        return np.sum(found, axis=0) if found else self._zero

    def type_scores(self, token: str) -> np.ndarray:
        """5 x 9: own score, then what this word adds to its neighbours at -2, -1, +1, +2
        (row k+1 is view k of `Featurizer.type_feats`, read by the token at -offset)."""
        hit = self._cache.get(token)
        if hit is None:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            feats = self.featurizer.type_feats(token)
            hit = self._cache[token] = np.stack([self._score(feats[k]) for k in range(5)])
        return hit

    def state_scores(self, tokens: Sequence[str]) -> np.ndarray:
        """n x 9 state scores of one sentence: what crfsuite sums from `Featurizer.sentence`.

        The per-type part comes from the cache; whatever `sentence` appends after it
        (gazetteer phrases, sentence-level context) is looked up attribute by attribute.
        """
        n = len(tokens)
        feats = self.featurizer.sentence(tokens)
        kinds = [self.featurizer.type_feats(t) for t in tokens]
        per = np.stack([self.type_scores(t) for t in tokens])  # n x 5 x 9
        s = per[:, 0].copy()
        # Token i reads view 1 of i-2, view 2 of i-1, view 3 of i+1, view 4 of i+2.
        s[2:] += per[:-2, 1]
        s[1:] += per[:-1, 2]
        s[:-1] += per[1:, 3]
        s[:-2] += per[2:, 4]
        w = self.weights
        s[0] += w.get("BOS", self._zero)
        s[n - 1] += w.get("EOS", self._zero)
        for i, attrs in enumerate(feats):
            base = (
                len(kinds[i][0])
                + (len(kinds[i - 2][1]) if i >= 2 else 0)
                + (len(kinds[i - 1][2]) if i >= 1 else 1)
                + (len(kinds[i + 1][3]) if i + 1 < n else 1)
                + (len(kinds[i + 2][4]) if i + 2 < n else 0)
            )
            for a in attrs[base:]:
                if a in w:
                    s[i] += w[a]
        return s

    def marginals(self, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Per sentence, n x 9 marginals (columns in `LABELS` order)."""
        scores = [self.state_scores(s) if s else None for s in sentences]
        live = [s for s in scores if s is not None]
        done = iter(forward_backward(live, self._exp_trans) if live else [])
        empty = np.zeros((0, _K))
        return [next(done) if s is not None else empty for s in scores]


def forward_backward(scores: Sequence[np.ndarray], exp_trans: np.ndarray) -> list[np.ndarray]:
    """Marginals of linear-chain CRFs with state `scores` (n x 9 each) and exp(transitions),
    scaled per position (so no logs), all sentences padded into one batch."""
    lengths = np.array([len(s) for s in scores])
    b, width = len(scores), int(lengths.max())
    pot = np.ones((b, width, _K))
    for i, s in enumerate(scores):
        pot[i, : len(s)] = np.exp(s - s.max(axis=1, keepdims=True))
    alpha = np.empty_like(pot)
    a = pot[:, 0]
    alpha[:, 0] = a = a / a.sum(axis=1, keepdims=True)
    for t in range(1, width):
        a = (a @ exp_trans) * pot[:, t]
        alpha[:, t] = a = a / a.sum(axis=1, keepdims=True)
    beta = np.ones_like(pot)
    for t in range(width - 2, -1, -1):
        nb = (pot[:, t + 1] * beta[:, t + 1]) @ exp_trans.T
        nb /= nb.sum(axis=1, keepdims=True)
        beta[:, t] = np.where((t < lengths - 1)[:, None], nb, 1.0)
    m = alpha * beta
    m /= m.sum(axis=2, keepdims=True)
    return [m[i, :n] for i, n in enumerate(lengths)]
