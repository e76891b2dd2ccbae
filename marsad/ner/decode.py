"""BIO-constrained Viterbi over per-token label probabilities (numpy only, no torch).

Used to decode a mixture of CRF marginals and neural-tagger probabilities: the mixture has no
transition scores of its own, so the constraint is what keeps the output well-formed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from marsad.ner.packing import pack

LABELS: tuple[str, ...] = (
    "O",
    "B-LOC",
    "I-LOC",
    "B-MISC",
    "I-MISC",
    "B-ORG",
    "I-ORG",
    "B-PERS",
    "I-PERS",
)
LABEL_INDEX = {lab: i for i, lab in enumerate(LABELS)}


def allowed(prev: str | None, cur: str) -> bool:
    """I-X may only follow B-X or I-X (never O, another type, or the sentence start)."""
    if not cur.startswith("I-"):
        return True
    return prev is not None and prev != "O" and prev[2:] == cur[2:]


_TRANS = np.array([[0.0 if allowed(p, c) else -np.inf for c in LABELS] for p in LABELS])
_START = np.array([0.0 if allowed(None, c) else -np.inf for c in LABELS])


def viterbi(probs: np.ndarray) -> list[str]:
    """Most probable valid BIO sequence under independent per-token `probs` (n x 9, `LABELS`)."""
    return viterbi_batch([probs])[0]


def viterbi_batch(probs: Sequence[np.ndarray]) -> list[list[str]]:
    """`viterbi` for many sentences at once, packed (`packing.py`): one numpy step per
    position of the longest over the sentences still running, the backtrack too."""
    live = [i for i, p in enumerate(probs) if len(p)]
    out: list[list[str]] = [[] for _ in probs]
    if not live:
        return out
    pk = pack([len(probs[i]) for i in live])
    with np.errstate(divide="ignore"):
        logp = np.log(pk.concat([np.asarray(probs[i], dtype=np.float64) for i in live]))[pk.src]
    steps = pk.steps()
    back = np.zeros((len(logp), len(LABELS)), dtype=np.intp)  # slot x label: best previous
    final = np.zeros((len(live), len(LABELS)))  # each sentence's scores at its last token
    lo, was = steps[0]
    score = _START + logp[lo : lo + was]
    for lo, k in steps[1:]:
        final[k:was] = score[k:was]  # the sentences that ended one step before
        cand = score[:k, :, None] + _TRANS  # sentence x prev x cur
        back[lo : lo + k] = cand.argmax(axis=1)
        score = cand.max(axis=1) + logp[lo : lo + k]  # the value at the argmax
        was = k
    final[:was] = score
    best = np.zeros(len(logp), dtype=np.intp)  # per slot: its label on the best path
    ends = np.zeros(len(steps) + 1, dtype=np.int64)
    ends[:-1] = pk.active
    for t in range(len(steps) - 1, -1, -1):
        lo, k = steps[t]
        nxt = int(ends[t + 1])  # sentences that go on to t + 1 take their label from there
        if nxt:
            hi = int(pk.offs[t + 1])
            best[lo : lo + nxt] = back[np.arange(hi, hi + nxt), best[hi : hi + nxt]]
        best[lo + nxt : lo + k] = final[nxt:k].argmax(axis=1)
    labels = np.empty(len(best), dtype=np.intp)
    labels[pk.src] = best
    names = np.array(LABELS, dtype=object)
    for i, seq in zip(live, pk.split(labels), strict=True):
        out[i] = names[seq].tolist()
    return out


def settled(probs: np.ndarray, weight: float) -> list[str] | None:
    """The labels of a mixture `weight`·probs + (1 − weight)·q whatever q is, when that is
    decided already: every token's best label leads by more than the other part can add
    (weight·(p1 − p2) > 1 − weight), and those labels form a valid BIO sequence (then the
    constrained Viterbi returns exactly them). None when the other part could change them."""
    if len(probs) == 0:
        return []
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    if not (weight * (top2[:, 1] - top2[:, 0]) > (1.0 - weight) + 1e-9).all():
        return None
    labels = [LABELS[i] for i in probs.argmax(axis=1)]
    prev: str | None = None
    for lab in labels:
        if not allowed(prev, lab):
            return None
        prev = lab
    return labels


_I_COLS = np.array([lab.startswith("I-") for lab in LABELS])
_PREV_OK = np.array([[allowed(p, c) for c in LABELS] for p in LABELS])


def settled_batch(probs: Sequence[np.ndarray], weight: float) -> list[list[str] | None]:
    """`settled` for each sentence, the margin and BIO checks done on all tokens at once."""
    lens = np.array([len(p) for p in probs])
    out: list[list[str] | None] = [[] for _ in probs]
    if not lens.sum():
        return out
    flat = np.concatenate([p for p in probs if len(p)])
    top2 = np.partition(flat, -2, axis=1)[:, -2:]
    best = flat.argmax(axis=1)
    ok = weight * (top2[:, 1] - top2[:, 0]) > (1.0 - weight) + 1e-9
    live = lens > 0
    starts = (np.cumsum(lens) - lens)[live]
    prev = np.roll(best, 1)
    first = np.zeros(len(best), dtype=bool)
    first[starts] = True
    ok &= np.where(first, ~_I_COLS[best], _PREV_OK[prev, best])
    whole = np.logical_and.reduceat(ok, starts)
    for i, good, s in zip(np.flatnonzero(live), whole, starts, strict=True):
        out[i] = [LABELS[k] for k in best[s : s + lens[i]]] if good else None
    return out
