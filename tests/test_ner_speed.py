"""The fast tagging path gives the reference path's labels (issue 17, speed).

Reference: pycrfsuite's marginals read token by token and the network on every sentence.
Fast: numpy marginals from cached per-type scores (`fastcrf.py`), the network only on the
sentences whose labels the CRF's share of the mixture leaves open (`decode.settled`), and
there with its input projection cached per word type (`recurrence.py`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from marsad.ner.conll import read_conll
from marsad.ner.decode import LABELS, settled, settled_batch, viterbi_batch
from marsad.ner.fastcrf import CrfScorer
from marsad.ner.features import Featurizer, shape
from marsad.ner.model import NEURAL_FILE, Tagger
from marsad.ner.neural import NeuralRunner
from marsad.ner.resources import DATA_DIR, load_resources
from marsad.text.arabic import fold_token
from marsad.text.clitics import strip_clitics

FIXTURES = Path(__file__).parent / "fixtures" / "ner"

# Written for this test: one short article (names repeat, so the repeat pass runs too), plus
# sentences with titles, places, organisations, Latin script, digits and punctuation.
ARTICLE = (
    "أعلنت وزارة الصحة في سلطنة عمان يوم الأحد عن افتتاح مستشفى جديد في مدينة صلالة .",
    "وقال وزير الصحة هلال السبتي إن المستشفى يضم 300 سرير ويخدم سكان محافظة ظفار .",
    "وأضاف السبتي أن منظمة الصحة العالمية قدمت دعما فنيا للمشروع .",
    "وكانت وكالة الأنباء العمانية قد ذكرت أن الافتتاح تأجل مرتين بسبب الأمطار .",
    "ذهب الأطفال إلى المدرسة صباحا ثم عادوا إلى البيت .",
    "قال الرئيس الفرنسي إيمانويل ماكرون في باريس إن فرنسا ستدعم لبنان .",
    "شارك فريق الهلال في بطولة كأس العالم للأندية في الرياض",
    "نشرت صحيفة New York Times تقريرا عن شركة أرامكو السعودية",
    "«",
)


def _sample() -> list[list[str]]:
    sents = [text.split() for text in ARTICLE]
    for name in ("scored.conll", "unlabelled.conll"):
        sents += [[tok for tok, _ in s] for s in read_conll(FIXTURES / name)]
    return sents


@pytest.fixture(scope="module")
def taggers() -> tuple[Tagger, Tagger]:
    return Tagger(), Tagger(fast=False)


def test_fast_marginals_equal_pycrfsuite(taggers: tuple[Tagger, Tagger]) -> None:
    fast, ref = taggers
    assert fast._scorer is not None
    sents = _sample()
    got = fast._scorer.marginals(sents)
    for sent, mine in zip(sents, got, strict=True):
        want = ref.crf_marginals(sent)
        assert mine.shape == want.shape == (len(sent), len(LABELS))
        # crfsuite's `info()` gives the weights to 6 decimals; the labels below are exact
        np.testing.assert_allclose(mine, want, atol=1e-4)


def test_fast_labels_equal_reference_labels(taggers: tuple[Tagger, Tagger]) -> None:
    fast, ref = taggers
    assert fast.neural is not None and ref.neural is not None
    sents = _sample()
    together = fast.tag(sents)
    assert together == ref.tag(sents)  # one document: batching and the repeat pass
    assert [fast.tag([s]) for s in sents] == [ref.tag([s]) for s in sents]
    assert fast.tag([[], *sents[:2], []]) == ref.tag([[], *sents[:2], []])
    names = {lab for labs in together for lab in labs}
    assert {"B-LOC", "B-PERS", "B-ORG"} <= names  # the sample exercises real entities


def _long_article() -> list[list[str]]:
    """60 sentences (the sample three times, shifted so the batch is not sorted) and one
    sentence of every sample token three times (~340 tokens): longer than any above."""
    sents = _sample()
    one = [tok for s in sents for tok in s] * 3
    return [*sents[3:], *sents, one, *sents[:3], [], *sents]


def test_fast_labels_equal_reference_on_a_long_article(taggers: tuple[Tagger, Tagger]) -> None:
    fast, ref = taggers
    doc = _long_article()
    assert max(map(len, doc)) > 300
    got = fast.tag(doc)
    assert got == ref.tag(doc)
    assert [len(labs) for labs in got] == [len(s) for s in doc]
    n = len(_sample())
    assert got[-n:] == got[n - 3 : 2 * n - 3]  # the same sentences, the same labels


def test_cached_gates_give_torchs_probabilities(taggers: tuple[Tagger, Tagger]) -> None:
    fast, ref = taggers
    assert fast.neural is not None and ref.neural is not None
    assert fast.neural.gate is not None and ref.neural.gate is None
    doc = _long_article()
    mine, want = fast.neural.probs(doc), ref.neural.probs(doc)
    for sent, p, q in zip(doc, mine, want, strict=True):
        assert p.shape == q.shape == (len(sent), len(LABELS))
        np.testing.assert_allclose(p, q, atol=1e-5)  # float32 sums in another order: ~1e-6
    assert mine[len(_sample()) - 3][0].sum() == pytest.approx(1.0, abs=1e-5)


def test_small_caches_reset_without_changing_results(taggers: tuple[Tagger, Tagger]) -> None:
    fast, _ = taggers
    assert fast.neural is not None and fast._scorer is not None
    doc = _long_article()
    tiny = CrfScorer(fast._crf, fast.featurizer, cache_size=7)
    small = NeuralRunner(DATA_DIR / NEURAL_FILE, fast.featurizer, cache_size=7, fast=True)
    for sents in (doc[:5], doc[5:9], doc[:5]):  # each call overflows the caches
        for p, q in zip(tiny.marginals(sents), fast._scorer.marginals(sents), strict=True):
            np.testing.assert_allclose(p, q, atol=1e-12)
        for p, q in zip(small.probs(sents), fast.neural.probs(sents), strict=True):
            np.testing.assert_allclose(p, q, atol=1e-6)
        assert len(tiny._rows) <= max(7, sum(map(len, sents)))


def test_settled_sentences_never_reach_the_network() -> None:
    tagger = Tagger()
    assert tagger.neural is not None and tagger._scorer is not None
    sents = [text.split() for text in ARTICLE]
    marg = tagger._scorer.marginals(sents)
    plain = ARTICLE[4].split()  # no name: the CRF alone settles it
    sure = tagger._settled(marg)
    assert sure[4] == settled(marg[4], tagger.neural.settle) == ["O"] * len(plain)
    open_ = [s for s, lab in zip(sents, sure, strict=True) if lab is None]
    assert open_ and len(open_) < len(sents)
    tagger.tag(sents)
    given = {t for s in open_ for t in s}
    assert set(tagger.neural._rows) == given  # the network's per-type cache: what it was given


probs = st.integers(1, 8).flatmap(
    lambda n: arrays(np.float64, (n, len(LABELS)), elements=st.floats(1e-6, 1.0))
)


def _normed(p: np.ndarray) -> np.ndarray:
    out: np.ndarray = p / p.sum(axis=1, keepdims=True)
    return out


@settings(max_examples=300, deadline=None)
@given(probs, probs, st.sampled_from([0.5, 0.7, 0.9]), st.integers(0, 2**32 - 1))
def test_settled_labels_are_what_the_mixture_decodes_to(
    crf: np.ndarray, other: np.ndarray, a: float, seed: int
) -> None:
    crf = _normed(crf)
    sharp = crf.copy()  # also a confident version, so the settled branch is exercised
    sharp[np.arange(len(sharp)), 0] += 50.0
    rng = np.random.default_rng(seed)
    for c in (crf, _normed(sharp)):
        labels = settled(c, a)
        if labels is None:
            continue
        for q in (_normed(other[:1].repeat(len(c), 0)), rng.dirichlet(np.ones(9), len(c))):
            assert viterbi_batch([a * c + (1 - a) * q])[0] == labels


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.just(0), st.integers(1, 6)), max_size=6), st.integers(0, 2**32 - 1))
def test_settled_batch_is_settled_per_sentence(lengths: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    batch = []
    for n in lengths:
        p = rng.dirichlet(np.full(len(LABELS), 0.05), n)  # peaked: many settle
        p[rng.random(n) < 0.5] = np.eye(len(LABELS))[rng.integers(0, len(LABELS), 1)] * 0.9 + 0.01
        batch.append(_normed(p) if n else p)
    assert settled_batch(batch, 0.7) == [settled(p, 0.7) for p in batch]


def test_settled_leaves_close_calls_open() -> None:
    p = np.full((2, len(LABELS)), 0.01)
    p[:, 0] = 0.92
    assert settled(p, 0.7) == ["O", "O"]
    p[1, 0], p[1, 1] = 0.6, 0.33  # 0.7 * 0.27 < 0.3: the network could flip it
    assert settled(p, 0.7) is None
    q = np.full((2, len(LABELS)), 0.0)
    q[:, 0] = 0.05
    q[0, 2] = 0.95  # I-LOC first: invalid BIO, so not settled even though confident
    assert settled(_normed(q + 0.001), 0.7) is None
    assert settled(np.zeros((0, len(LABELS))), 0.7) == []


def _plain_type_feats(fz: Featurizer, token: str) -> tuple[tuple[str, ...], ...]:
    """`Featurizer._type_feats` as first written (no shortcuts): the attributes the CRF was
    trained on, which the faster version must reproduce string for string."""
    res = fz.res
    n = fold_token(token)
    pre, stem = strip_clitics(n, res.rank)
    own = ["b", "w=" + n, "sh=" + shape(token), "len=" + str(min(len(n), 8))]
    if stem != n:
        own += ["s=" + stem, "pre=" + pre]
    for k in (1, 2, 3):
        if len(n) > k:
            own += [f"p{k}=" + n[:k], f"x{k}=" + n[-k:]]
        if len(stem) > k + 1 and stem != n:
            own += [f"sp{k}=" + stem[:k], f"sx{k}=" + stem[-k:]]
    cl = res.clusters.get(n)
    scl = res.clusters.get(stem) if stem != n else None
    if cl is None and scl is not None:
        cl, scl = scl, None
    own += [f"c{i}=" + c for i, c in enumerate(cl)] if cl is not None else ["c=none"]
    if scl is not None:
        own += [f"sc{i}=" + c for i, c in enumerate(scl)]
    gaz = set(res.gaz_tokens.get(n, ()))
    gaz.update("s" + g for g in res.gaz_tokens.get(stem, ()) if stem != n)
    own += ["g=" + g for g in sorted(gaz)]
    trig = res.triggers.get(n) or res.triggers.get(stem)
    if trig:
        own.append("t=" + trig)
    near = ["w=" + n] + (["s=" + stem] if stem != n else [])
    if cl is not None:
        near += [f"c{i}=" + c for i, c in enumerate(cl[:2])]
    if trig:
        near.append("t=" + trig)
    near += ["g=" + g for g in sorted(gaz) if not g.startswith("s")]
    far = ["w=" + n] + ([f"c0={cl[0]}"] if cl is not None else [])
    views = tuple(
        [f"{off}:{f}" for f in (near if abs(off) == 1 else far)] for off in (-2, -1, 1, 2)
    )
    if fz.keep is not None:
        own = [f for f in own if f in fz.keep]
        views = tuple([f for f in view if f in fz.keep] for view in views)
    return (tuple(own), *map(tuple, views), (n, stem))


# clitic and article forms, digits, Latin, diacritics, a one-letter word, punctuation
ODD_WORDS = ("وبالقاهرة", "فللأمم", "لل", "وليد", "بأفغانستان", "٢٠٢٤", "Reuters", "مُحَمَّد", "و", "،")


def test_type_feats_are_the_plain_attributes_string_for_string(
    taggers: tuple[Tagger, Tagger],
) -> None:
    fast, _ = taggers
    words = list(dict.fromkeys([t for s in _sample() for t in s] + list(ODD_WORDS)))
    for keep in (fast.featurizer.keep, None):
        fz = Featurizer(fast.featurizer.res)
        fz.keep = keep  # set after construction too: the views' shortcut follows it
        got = [fz._type_feats(w) for w in words]
        assert got == [_plain_type_feats(fz, w) for w in words]
        if keep is not None:  # the sample has words whose views the model weighs
            assert any(any(views) for _, *views, _ in got)


def test_batched_type_blocks_equal_per_type_sums(taggers: tuple[Tagger, Tagger]) -> None:
    fast, _ = taggers
    scorer = CrfScorer(fast._crf, fast.featurizer)
    doc = [*_sample(), list(ODD_WORDS)]
    scorer.state_scores_batch(doc)  # every new type of the call in one reduceat
    types = list(dict.fromkeys(t for s in doc for t in s))
    assert len(scorer._rows) == len(types)
    for t in types:
        feats = fast.featurizer.type_feats(t)
        want = np.array([scorer._score(feats[k]) for k in range(5)])
        np.testing.assert_allclose(scorer.type_scores(t), want, rtol=0, atol=1e-12)
    assert np.abs(scorer._blocks[: len(types)]).sum() > 0


def test_type_scores_one_at_a_time_past_the_first_table(taggers: tuple[Tagger, Tagger]) -> None:
    fast, _ = taggers
    scorer = CrfScorer(fast._crf, fast.featurizer)
    words = [f"كلمة{i}" for i in range(1100)]  # more than the 1024 rows it starts with
    blocks = [scorer.type_scores(w).copy() for w in words]
    batch = CrfScorer(fast._crf, fast.featurizer)
    batch.state_scores_batch([words])
    for w, b in zip(words, blocks, strict=True):
        np.testing.assert_array_equal(b, batch.type_scores(w))


def test_network_type_features_use_the_crfs_fold_and_split(taggers: tuple[Tagger, Tagger]) -> None:
    fast, _ = taggers
    assert fast.neural is not None
    feats = fast.neural.features
    for w in [t for s in _sample() for t in s] + list(ODD_WORDS):
        n = fold_token(w)
        stem = strip_clitics(n, fast.featurizer.res.rank)[1]
        wid, sid, *_ = feats(w)
        assert (wid, sid) == (feats.vocab.word_id.get(n, 1), feats.vocab.word_id.get(stem, 1))


def test_a_settle_weight_above_the_mix_keeps_the_crf_labels_where_it_is_sure() -> None:
    """A model mixed at 0.5 whose CRF still decides the sentences it settles at 0.7 (at 0.5 no
    margin settles anything, so the network would read every sentence): both paths agree."""
    fast, ref = Tagger(), Tagger(fast=False)
    assert fast.neural is not None and ref.neural is not None and fast._scorer is not None
    for t in (fast, ref):
        t.neural.mix, t.neural.settle, t.neural.settle_o_only = 0.5, 0.7, False
    sents = _sample()
    marg = fast._scorer.marginals(sents)
    assert all(not lab for lab in settled_batch(marg, 0.5))  # empty or open: none settled
    sure = settled_batch(marg, 0.7)
    assert any(sure) and None in sure
    assert fast.tag(sents) == ref.tag(sents)
    for lab, got in zip(sure, fast._tag_sentences(sents), strict=True):
        if lab is not None:
            assert got == lab
    given = {t for s, lab in zip(sents, sure, strict=True) if lab is None for t in s}
    assert set(fast.neural._rows) == given
    # the same weights decoded without the shortcut differ somewhere: the setting is real
    ref.neural.settle = 0.5
    assert ref._tag_sentences(sents) != fast._tag_sentences(sents)


def test_the_settle_weight_is_read_from_the_model_file(tmp_path: Path) -> None:
    blob = torch.load(DATA_DIR / NEURAL_FILE, map_location="cpu", weights_only=True)
    fz = Featurizer(load_resources(DATA_DIR))
    shipped = NeuralRunner(DATA_DIR / NEURAL_FILE, fz)
    assert shipped.settle == blob.get("settle", blob["mix"])
    assert shipped.settle_o_only == blob.get("settle_o_only", False)
    blob["mix"], blob["settle"], blob["settle_o_only"] = 0.5, 0.75, True
    torch.save(blob, tmp_path / NEURAL_FILE)
    runner = NeuralRunner(tmp_path / NEURAL_FILE, fz, fast=True)
    assert (runner.mix, runner.settle, runner.settle_o_only) == (0.5, 0.75, True)
    del blob["settle"], blob["settle_o_only"]
    torch.save(blob, tmp_path / NEURAL_FILE)
    older = NeuralRunner(tmp_path / NEURAL_FILE, fz)
    assert (older.settle, older.settle_o_only) == (0.5, False)  # a file from before: exact


def test_settle_o_only_sends_every_sentence_with_a_name_to_the_network() -> None:
    fast, ref = Tagger(), Tagger(fast=False)
    assert fast.neural is not None and ref.neural is not None and fast._scorer is not None
    for t in (fast, ref):
        t.neural.mix, t.neural.settle, t.neural.settle_o_only = 0.5, 0.7, True
    sents = _sample()
    sure = settled_batch(fast._scorer.marginals(sents), 0.7)
    named = [lab for lab in sure if lab and lab.count("O") < len(lab)]
    assert named and any(lab and lab.count("O") == len(lab) for lab in sure)
    assert fast.tag(sents) == ref.tag(sents)
    read = {t for s, lab in zip(sents, sure, strict=True) if lab is None or lab in named for t in s}
    assert set(fast.neural._rows) == read


def test_a_full_type_cache_keeps_the_recent_types_and_their_rows() -> None:
    fz = Featurizer(load_resources(DATA_DIR))
    runner = NeuralRunner(DATA_DIR / NEURAL_FILE, fz, cache_size=40, fast=True)
    fresh = NeuralRunner(DATA_DIR / NEURAL_FILE, fz, fast=True)
    calls = [[[f"كلمة{k}{i}" for i in range(9)] + ["قال"]] for k in range(6)]  # 10 types each
    for sents in calls:
        for p, q in zip(runner.probs(sents), fresh.probs(sents), strict=True):
            np.testing.assert_allclose(p, q, atol=1e-6)
    # four calls filled it (37 types); the fifth kept the newest 20 (قال, read by every call,
    # then the fourth's and the third's words, one of the second's), then added its own
    kept = set(runner._rows)
    assert "قال" in kept and set(calls[-1][0]) | set(calls[3][0]) <= kept
    assert not (set(calls[0][0]) - {"قال"}) & kept
    assert len(kept) <= 40 and sorted(runner._rows.values()) == list(range(len(kept)))
    again = runner.probs(calls[-2])  # still cached: same rows, same probabilities
    for p, q in zip(again, fresh.probs(calls[-2]), strict=True):
        np.testing.assert_allclose(p, q, atol=1e-6)
