"""CRF marginals in numpy from the model's own weights, without pycrfsuite's per-token calls.

A token's CRF state score is the sum of the weights of its attributes, and most of the
attribute list the featurizer builds is made of per-type parts (own features and the views a
word gives its neighbours at -2, -1, +1, +2). So the 5 x 9 score block of a word type is
computed once and cached in one array. A call's scores are then one gather of those blocks for
all its tokens, 4 shifted additions masked at sentence edges, BOS/EOS, and a look-up of the
few sentence-level attributes (phrases, context) in the sentences whose words can bring any
(per-type flags say which: most sentences have none); forward-backward runs for all
sentences of a call at once (one numpy step per position of the longest). Same quantities as
`pycrfsuite.Tagger.marginal`, to within the 6 decimals `info()` gives the weights in (marginals
differ by < 1e-5).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pycrfsuite

from marsad.ner.context import _OPEN, SPORT_WORDS, _core, add_context
from marsad.ner.decode import LABEL_INDEX, LABELS
from marsad.ner.features import Featurizer, Resources, opens_phrase
from marsad.ner.packing import pack
from marsad.ner.spans import PLACE_TRIGGERS

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
        self._attr_ids = {a: i for i, a in enumerate(self.weights)}
        self._wmat = np.stack([*self.weights.values(), np.zeros(_K)])
        trans = np.zeros((_K, _K))
        for (prev, cur), w in info.transitions.items():
            trans[LABEL_INDEX[prev], LABEL_INDEX[cur]] = w
        self.trans = trans
        self._exp_trans = np.exp(trans - trans.max())  # a constant shift cancels out
        self.featurizer = featurizer
        self._zero = np.zeros(_K)
        self._bos = self.weights.get("BOS", self._zero)
        self._eos = self.weights.get("EOS", self._zero)
        self._rows: dict[str, int] = {}
        self._forms: list[tuple[str, ...]] = []  # per row: (normalised word, stem)
        self._blocks = np.zeros((1024, 5, _K))
        self._flags = np.zeros(1024, dtype=np.int8)  # per row: what may add sentence-level attrs
        self._cache_size = cache_size

    def _score(self, attrs: Sequence[str]) -> np.ndarray:
        ids = self._attr_ids
        found = [ids[a] for a in attrs if a in ids]
        if not found:
            return self._zero
        score: np.ndarray = self._wmat[found].sum(axis=0)
        return score

    def _row(self, token: str) -> int:
        """The row of `token`'s 5 x 9 block, computed on first sight (as `_add_rows`)."""
        self._add_rows([token])
        return self._rows[token]

    def _add_rows(self, new: Sequence[str]) -> None:
        """Blocks of word types not yet cached (own score, then what each adds to its
        neighbours at -2, -1, +1, +2: row k+1 is view k of `Featurizer.type_feats`), all in
        one gather and one `reduceat`. Each attribute list ends with the zero row (and an
        unweighted attribute reads it), so no segment is empty and each sums as `_score`."""
        base = len(self._rows)
        need = base + len(new)
        while need > len(self._blocks):
            self._blocks = np.concatenate([self._blocks, np.zeros_like(self._blocks)])
            self._flags = np.concatenate([self._flags, np.zeros_like(self._flags)])
        type_feats, res = self.featurizer.type_feats, self.featurizer.res
        get, zero = self._attr_ids.get, len(self._wmat) - 1
        flat: list[int] = []
        ends: list[int] = []
        flags = self._flags
        for i, token in enumerate(new):
            own, *views, form = type_feats(token)
            flat += [get(a, zero) for a in own]
            flat.append(zero)
            end = len(flat)
            ends.append(end)
            if any(views):
                for view in views:
                    flat += [get(a, zero) for a in view]
                    flat.append(zero)
                    ends.append(len(flat))
            else:  # most words give their neighbours nothing: four zero rows
                flat += (zero, zero, zero, zero)
                ends += (end + 1, end + 2, end + 3, end + 4)
            self._forms.append(form)
            flags[base + i] = sentence_level_flags(token, form, res)
        if new:
            starts = np.array([0, *ends[:-1]])
            sums = np.add.reduceat(self._wmat[np.array(flat)], starts, axis=0)
            self._blocks[base:need] = sums.reshape(len(new), 5, _K)
        self._rows.update(zip(new, range(base, need), strict=True))

    def type_scores(self, token: str) -> np.ndarray:
        """5 x 9: own score, then what this word adds to its neighbours at -2, -1, +1, +2."""
        row = self._rows.get(token)
        if row is None and len(self._rows) >= self._cache_size:
            self._rows.clear()
            self._forms.clear()
        if row is None:
            row = self._row(token)  # before reading `_blocks`, which may grow
        block: np.ndarray = self._blocks[row]
        return block

    def state_scores(self, tokens: Sequence[str]) -> np.ndarray:
        """n x 9 state scores of one sentence: what crfsuite sums from `Featurizer.sentence`."""
        return self.state_scores_batch([tokens])[0]

    def state_scores_batch(self, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """`state_scores` of non-empty sentences, all tokens in one numpy gather.

        Token i reads view 1 of i-2, view 2 of i-1, view 3 of i+1, view 4 of i+2 (a neighbour
        outside the sentence adds zero); then BOS/EOS, and what `Featurizer.sentence` appends
        after the per-type part (context, gazetteer phrases) is looked up attribute by attribute.
        """
        if len(self._rows) + sum(map(len, sentences)) > self._cache_size:
            self._rows.clear()  # reset when it could fill, rather than tracked LRU
            self._forms.clear()
        known = self._rows
        new = [t for t in dict.fromkeys(t for s in sentences for t in s) if t not in known]
        self._add_rows(new)
        rows = [known[t] for s in sentences for t in s]
        lens = np.array([len(s) for s in sentences])
        pos = np.arange(len(rows)) - np.repeat(np.cumsum(lens) - lens, lens)
        rem = np.repeat(lens, lens) - 1 - pos
        per = self._blocks[np.array(rows)]  # N x 5 x 9
        s = per[:, 0].copy()
        s[2:] += per[:-2, 1] * (pos[2:] >= 2)[:, None]
        s[1:] += per[:-1, 2] * (pos[1:] >= 1)[:, None]
        s[:-1] += per[1:, 3] * (rem[:-1] >= 1)[:, None]
        s[:-2] += per[2:, 4] * (rem[:-2] >= 2)[:, None]
        s[pos == 0] += self._bos
        s[rem == 0] += self._eos
        ends = np.cumsum(lens)
        out = np.split(s, ends[:-1])
        if not len(rows):
            return out
        flags = self._flags[np.array(rows)]
        starts = ends - lens
        anyflag = np.bitwise_or.reduceat(flags, starts)
        sport = np.add.reduceat((flags & SPORT) > 0, starts)
        ctx = (anyflag & (QUOTE | TRIGGER) > 0) | (sport >= 2)
        phrase = anyflag & PHRASE > 0
        forms = self._forms
        for j in np.flatnonzero(ctx | phrase).tolist():
            mine = [forms[r] for r in rows[starts[j] : ends[j]]]
            self._add_sentence_level(sentences[j], mine, out[j], bool(ctx[j]), bool(phrase[j]))
        return out

    def _add_sentence_level(
        self,
        tokens: Sequence[str],
        forms: list[tuple[str, ...]],
        s: np.ndarray,
        ctx: bool,
        phr: bool,
    ) -> None:
        """Add to `s` the weights of the attributes `Featurizer.sentence` appends to the
        per-type ones: `add_context`'s (when `ctx`), then the phrase tags at 0 and ±1 (`phr`)."""
        fz, w = self.featurizer, self.weights
        extra: list[list[str]] = [[] for _ in tokens]
        if fz.context and ctx:
            add_context(tokens, forms, fz.res.gaz_tokens, extra)
        if fz.res.phrase_prefixes and phr:
            fz.add_phrases(forms, extra)
        for i, attrs in enumerate(extra):
            for a in attrs:
                if a in w:
                    s[i] += w[a]

    def marginals(self, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Per sentence, n x 9 marginals (columns in `LABELS` order)."""
        live = [s for s in sentences if s]
        done = iter(
            forward_backward(self.state_scores_batch(live), self._exp_trans) if live else []
        )
        empty = np.zeros((0, _K))
        return [next(done) if s else empty for s in sentences]


# Flags of a word type: the sentence-level attributes it can bring about (`context.py`, phrases).
QUOTE, SPORT, TRIGGER, PHRASE = 1, 2, 4, 8


def sentence_level_flags(token: str, form: Sequence[str], res: Resources) -> int:
    """Which of `add_context`'s conditions this word can meet (an opening quote, a sports
    word, a place trigger) and whether a gazetteer phrase can start at it. A sentence with no
    flag gets nothing from `add_context` or `phrase_tags`, so both are skipped for it (most
    sentences); with a flag they run as `Featurizer.sentence` runs them."""
    core = _core(form[0])
    return (
        (QUOTE if token in _OPEN else 0)
        | (SPORT if core in SPORT_WORDS else 0)
        | (TRIGGER if core in PLACE_TRIGGERS else 0)
        | (PHRASE if opens_phrase(form, res) else 0)
    )


def forward_backward(scores: Sequence[np.ndarray], exp_trans: np.ndarray) -> list[np.ndarray]:
    """Marginals of linear-chain CRFs with state `scores` (n x 9 each, n > 0) and
    exp(transitions), scaled per position (so no logs), all sentences packed into one batch
    (`packing.py`): step t computes only the sentences longer than t."""
    pk = pack([len(s) for s in scores])
    flat = pk.concat(scores)
    pot = np.exp(flat - flat.max(axis=1, keepdims=True))[pk.src]  # packed slots
    alpha = np.empty_like(pot)
    steps = pk.steps()
    lo, k = steps[0]
    a = pot[lo : lo + k]
    alpha[lo : lo + k] = a = a / a.sum(axis=1, keepdims=True)
    for lo, k in steps[1:]:
        a = (a[:k] @ exp_trans) * pot[lo : lo + k]
        alpha[lo : lo + k] = a = a / a.sum(axis=1, keepdims=True)
    beta = np.ones_like(pot)  # a sentence's last position keeps 1
    for (lo, _), (hi, k) in zip(steps[-2::-1], steps[:0:-1], strict=True):
        nb = (pot[hi : hi + k] * beta[hi : hi + k]) @ exp_trans.T  # the k longer than t + 1
        beta[lo : lo + k] = nb / nb.sum(axis=1, keepdims=True)
    m = alpha * beta
    m /= m.sum(axis=1, keepdims=True)
    out = np.empty_like(m)
    out[pk.src] = m
    return pk.split(out)
