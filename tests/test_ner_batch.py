"""Tagging a batch of articles in one pass (`Tagger.tag_docs`) and the packed sequence steps.

The models run once over the sentences of all the documents (issue 17, speed); each document
must still get exactly what `tag` gives it alone, the repeat pass included.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ner_speed import _sample

from marsad.ner.backends import tag_docs
from marsad.ner.decode import LABELS, allowed, viterbi_batch
from marsad.ner.fastcrf import forward_backward
from marsad.ner.model import Tagger
from marsad.ner.packing import pack

# Tagged O alone, but ORG after a document that names أرامكو السعودية (the repeat pass).
LONE = ["إن", "أرامكو", "السعودية", "كبير"]


def _docs() -> list[list[list[str]]]:
    s = _sample()
    return [s[:5], [LONE], s[5:], [], [[]], [*s[2:9], LONE], s[:1], [s[-1]] * 3]


def test_tag_docs_gives_each_document_what_tag_gives_it_alone() -> None:
    fast, ref = Tagger(), Tagger(fast=False)
    docs = _docs()
    want = [ref.tag(d) for d in docs]
    assert fast.tag_docs(docs) == want == [fast.tag(d) for d in docs]
    assert ref.tag_docs(docs) == want
    # the repeat pass stays inside each document: the lone sentence is O after the sample
    # document, though as one document it would have been relabelled ORG
    assert want[1] == [["O"] * len(LONE)]
    assert fast.tag([*docs[2], LONE])[-1] == ["O", "B-ORG", "I-ORG", "O"]
    assert want[5][-1] == ["O", "B-ORG", "I-ORG", "O"]  # within one document it is spread


def test_tag_docs_falls_back_to_tag_for_taggers_without_it() -> None:
    class PerDocument:
        def __init__(self) -> None:
            self.calls: list[int] = []

        def tag(self, sentences: list[list[str]]) -> list[list[str]]:
            self.calls.append(len(sentences))
            return [["O"] * len(s) for s in sentences]

    tagger = PerDocument()
    docs = [[["a", "b"]], [], [["c"], ["d", "e", "f"]]]
    assert tag_docs(tagger, docs) == [[["O", "O"]], [], [["O"], ["O", "O", "O"]]]
    assert tagger.calls == [1, 0, 2]


def _plain_marginals(scores: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Brute force: every label sequence, weighted by exp(score)."""
    n, k = scores.shape
    out = np.zeros((n, k))
    for seq in itertools.product(range(k), repeat=n):
        w = np.exp(
            sum(scores[i, seq[i]] for i in range(n))
            + sum(trans[seq[i - 1], seq[i]] for i in range(1, n))
        )
        for i, lab in enumerate(seq):
            out[i, lab] += w
    return out / out.sum(axis=1, keepdims=True)


def _plain_viterbi(probs: np.ndarray) -> list[str]:
    """Brute force over valid BIO sequences (ties: the first in product order, as argmax)."""
    best, arg = -np.inf, None
    with np.errstate(divide="ignore"):
        logp = np.log(probs)
    for seq in itertools.product(range(len(LABELS)), repeat=len(probs)):
        labels = [LABELS[i] for i in seq]
        if not all(allowed(p, c) for p, c in zip([None, *labels], labels, strict=False)):
            continue
        score = sum(logp[i, s] for i, s in enumerate(seq))
        if score > best:
            best, arg = score, labels
    assert arg is not None
    return arg


lengths = st.lists(st.integers(1, 4), min_size=1, max_size=6)


@settings(max_examples=25, deadline=None)
@given(lengths, st.integers(0, 2**32 - 1))
def test_packed_forward_backward_is_the_exact_marginal(lens: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = 3  # brute force over 3 labels: forward_backward is label-count agnostic
    trans = rng.normal(size=(k, k))
    scores = [rng.normal(size=(n, k)) * 2 for n in lens]
    got = forward_backward(scores, np.exp(trans))
    for s, m in zip(scores, got, strict=True):
        np.testing.assert_allclose(m, _plain_marginals(s, trans), atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=5), st.integers(0, 2**32 - 1))
def test_packed_viterbi_is_the_best_valid_sequence(lens: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = []
    for n in lens:
        p = rng.dirichlet(np.ones(len(LABELS)) * 0.5, size=n)
        gone = rng.random((n, len(LABELS))) < 0.2
        gone[:, 0] = False  # O stays possible, so some valid sequence has a finite score
        p[gone] = 0.0  # impossible labels, as a mixture can give
        probs.append(p)
    got = viterbi_batch(probs)
    for p, labels in zip(probs, got, strict=True):
        assert labels == (_plain_viterbi(p) if len(p) else [])


@given(st.lists(st.integers(1, 30), min_size=1, max_size=40))
def test_packing_visits_every_token_once_longest_first(lens: list[int]) -> None:
    pk = pack(lens)
    assert sorted(pk.src.tolist()) == list(range(sum(lens)))
    assert pk.active.tolist() == [sum(n > t for n in lens) for t in range(max(lens))]
    assert list(np.diff(pk.lens) <= 0) == [True] * (len(lens) - 1)
    flat = np.arange(sum(lens))
    parts = pk.split(flat)
    assert [len(p) for p in parts] == lens
    assert np.array_equal(np.sort(np.concatenate(parts)), flat)
