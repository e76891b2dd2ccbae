"""BIO-constrained Viterbi over per-token label probabilities (numpy only, no torch).

Used to decode a mixture of CRF marginals and neural-tagger probabilities: the mixture has no
transition scores of its own, so the constraint is what keeps the output well-formed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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
    """`viterbi` for many sentences at once: one numpy step per position of the longest."""
    lengths = [len(p) for p in probs]
    width = max(lengths, default=0)
    if width == 0:
        return [[] for _ in probs]
    k = len(LABELS)
    logp = np.zeros((len(probs), width, k))
    with np.errstate(divide="ignore"):
        for b, p in enumerate(probs):
            logp[b, : len(p)] = np.log(np.asarray(p, dtype=np.float64))
    score = _START + logp[:, 0]
    back = np.zeros((len(probs), width, k), dtype=np.intp)
    ended = np.zeros((len(probs), k))
    length = np.array(lengths)
    for t in range(1, width):
        cand = score[:, :, None] + _TRANS  # batch x prev x cur
        back[:, t] = cand.argmax(axis=1)
        step = cand.max(axis=1) + logp[:, t]  # the value at the argmax
        done = length == t
        ended[done] = score[done]
        score = np.where((length > t)[:, None], step, score)
    last = length == width
    ended[last] = score[last]
    out: list[list[str]] = []
    for b, n in enumerate(lengths):
        if n == 0:
            out.append([])
            continue
        best = [int(ended[b].argmax())]
        for t in range(n - 1, 0, -1):
            best.append(int(back[b, t, best[-1]]))
        out.append([LABELS[i] for i in reversed(best)])
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
