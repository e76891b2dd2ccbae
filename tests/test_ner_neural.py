"""The CRF + neural ensemble: decoding, the neural switch, loading once, unseen sentences."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pycrfsuite
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from marsad.ner import load_tagger
from marsad.ner.conll import spans
from marsad.ner.decode import LABELS, allowed, viterbi, viterbi_batch
from marsad.ner.model import NEURAL_FILE, Tagger
from marsad.ner.resources import DATA_DIR, MODEL_FILE
from marsad.ner.train_neural import SELF_MIX, SELF_SETTLE, SELF_SETTLE_O_ONLY

# Hand-written news sentences; the names are not in ANERcorp's test split.
TEXTS = (
    "وصل وزير الخارجية الياباني يوشيماسا هاياشي إلى نيروبي يوم الثلاثاء",
    "وقالت منظمة الصحة العالمية في بيان صدر في جنيف إن الوباء تراجع",
    "التقى رئيس الوزراء الكندي جاستن ترودو نظيره الأسترالي أنتوني ألبانيز في أوتاوا",
    "أعلن البنك المركزي الأوروبي رفع أسعار الفائدة في فرانكفورت",
)
SENTENCES = [text.split() for text in TEXTS]


def _valid(labels: list[str]) -> bool:
    return all(allowed(p, c) for p, c in zip([None, *labels], labels, strict=False))


probs_matrix = st.integers(0, 12).flatmap(
    lambda n: arrays(np.float64, (n, len(LABELS)), elements=st.floats(0.0, 1.0))
)


@settings(max_examples=200, deadline=None)
@given(st.lists(probs_matrix, min_size=1, max_size=4))
def test_constrained_viterbi_never_emits_invalid_bio(batch: list[np.ndarray]) -> None:
    out = viterbi_batch(batch)
    assert [len(o) for o in out] == [len(p) for p in batch]
    for labels in out:
        assert _valid(labels), labels


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (3, len(LABELS)), elements=st.floats(1e-3, 1.0)))
def test_viterbi_is_the_best_valid_sequence(probs: np.ndarray) -> None:
    logp = np.log(probs)

    def total(seq: tuple[int, ...]) -> float:
        return float(sum(logp[t, i] for t, i in enumerate(seq)))

    valid = [
        s for s in itertools.product(range(len(LABELS)), repeat=3) if _valid([LABELS[i] for i in s])
    ]
    best = max(total(s) for s in valid)
    got = tuple(LABELS.index(lab) for lab in viterbi(probs))
    assert total(got) == pytest.approx(best)


def test_the_bundled_model_is_an_ensemble_loaded_once() -> None:
    tagger = load_tagger()
    assert (DATA_DIR / NEURAL_FILE).exists()
    assert tagger is load_tagger() and tagger.neural is not None
    nr = tagger.neural
    assert (nr.mix, nr.settle, nr.settle_o_only) == (SELF_MIX, SELF_SETTLE, SELF_SETTLE_O_ONLY)
    tagger.tag(SENTENCES)
    cached = len(tagger.neural._rows)
    tagger.tag(SENTENCES)
    assert len(tagger.neural._rows) == cached  # word-type vectors are computed once


def test_unseen_sentences_get_plausible_types() -> None:
    labels = load_tagger().tag(SENTENCES)
    found = {
        (" ".join(toks[s:e]), t)
        for toks, labs in zip(SENTENCES, labels, strict=True)
        for s, e, t in spans(labs)
    }
    words = {(w, t) for text, t in found for w in text.split()}
    assert ("هاياشي", "PERS") in words
    assert ("نيروبي", "LOC") in words
    assert ("جنيف", "LOC") in words
    assert ("ترودو", "PERS") in words
    assert ("أوتاوا", "LOC") in words
    assert any(t == "ORG" and "الصحة" in text for text, t in found)
    assert any(t == "ORG" and "البنك" in text for text, t in found)
    for labs in labels:
        assert _valid(labs)


def test_neural_off_is_exactly_the_crf() -> None:
    tagger = Tagger(neural=False)
    assert tagger.neural is None
    crf = pycrfsuite.Tagger()
    crf.open(str(DATA_DIR / MODEL_FILE))
    for sent in SENTENCES:  # one sentence per call: no repeat pass
        assert tagger.tag([sent]) == [crf.tag(tagger.featurizer.sentence(sent))]


def test_crf_only_tagging_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from marsad.ner.model import Tagger\n"
        "Tagger(neural=False).tag([['قال', 'الرئيس']])\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_asking_for_a_missing_neural_model_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / MODEL_FILE).write_bytes((DATA_DIR / MODEL_FILE).read_bytes())
    assert Tagger(tmp_path).neural is None  # auto: no neural file, CRF only
    with pytest.raises(FileNotFoundError, match="marsad ner train"):
        Tagger(tmp_path, neural=True)


def test_threads_sharing_the_tagger_get_their_own_labels() -> None:
    """The runner tags batches on threads that share one cached tagger (pycrfsuite is stateful)."""
    import threading

    tagger = load_tagger()
    words = ["قال", "الرئيس", "العراقي", "برهم", "صالح", "في", "بغداد", "إن", "الحوار", "مستمر"]
    # long enough that a thread switch lands inside a document (the GIL switches every 5 ms)
    docs = [[(words[j:] + words[:j]) * 4 for j in range(k, k + 10)] * 6 for k in range(6)]
    want = [tagger.tag(d) for d in docs]
    got: list[list[list[str]] | None] = [None] * len(docs)
    errors: list[BaseException] = []

    def work(start: int) -> None:
        for _ in range(3):
            for i in range(start, len(docs), 2):
                try:
                    got[i] = tagger.tag(docs[i])
                except Exception as exc:  # collected and asserted below
                    errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and got == want


def test_train_neural_without_data_location_says_what_to_pass(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from marsad.ner.train_neural import main
    from marsad.ner.training_data import DATA_ENV

    monkeypatch.delenv(DATA_ENV, raising=False)
    assert main([]) == 2
    (err,) = capsys.readouterr().err.splitlines()
    assert "no training data" in err and "--data-dir DIR" in err and DATA_ENV in err


def test_train_module_still_exports_what_it_held_before_the_split() -> None:
    from marsad.ner import clusters, crf_training, gazetteer, train, training_data, triggers

    assert train.prepare_corpus is clusters.prepare_corpus
    assert train.train_word2vec is clusters.train_word2vec
    assert train.split_dev is crf_training.split_dev
    assert train.build_gazetteer is gazetteer.build_gazetteer
    assert train.TRAIN_FILE == training_data.TRAIN_FILE
    assert train.TRIGGERS is triggers.TRIGGERS
    assert train.SEED == 13
    assert not hasattr(train, "DEFAULT_SHARED")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["الأمم", "المتحدة", "للأمم", "الولايات", "مجلس", "الأمن", "قال", "في", "و", "."]
        ),
        min_size=1,
        max_size=12,
    )
)
def test_phrase_ids_skip_only_sentences_where_no_phrase_can_start(words: list[str]) -> None:
    """The network's phrase ids, with the early exit for sentences where no gazetteer phrase
    can start, against phrase_tags run on every sentence."""
    from marsad.ner.neural import PHRASES

    tagger = load_tagger()
    assert tagger.neural is not None
    tf, fz = tagger.neural.features, tagger.featurizer
    forms = [fz.type_feats(t)[5] for t in words]
    tags = fz.phrase_tags([f[0] for f in forms], [f[1] for f in forms])
    assert tf.phrases(words) == [PHRASES.index(t) + 1 if t in PHRASES else 0 for t in tags]


def test_a_gazetteer_phrase_gets_phrase_ids() -> None:
    tagger = load_tagger()
    assert tagger.neural is not None
    ids = tagger.neural.features.phrases(["قال", "الأمين", "العام", "للأمم", "المتحدة"])
    assert ids[:3] == [0, 0, 0] and ids[3] and ids[4]
