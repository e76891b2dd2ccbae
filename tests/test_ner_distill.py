"""Distillation: a network trained on other networks' averaged probabilities (`train_neural`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from marsad.ner import load_tagger
from marsad.ner.decode import LABEL_INDEX, LABELS
from marsad.ner.distill import teacher_probs
from marsad.ner.model import NEURAL_FILE
from marsad.ner.neural import NeuralConfig, NeuralRunner
from marsad.ner.resources import DATA_DIR
from marsad.ner.train_neural import Data, predict_probs, train_model

# Hand-written; every label is O, the teachers say the first word is a person.
TEXTS = (
    "زيد وصل إلى المدينة صباح اليوم",
    "زيد قال إن الاجتماع انتهى",
    "زيد عاد من السفر أمس",
    "زيد كتب مقالا عن الاقتصاد",
)


def _student(distill: float) -> list[np.ndarray]:
    tagger = load_tagger()
    assert tagger.neural is not None
    runner = tagger.neural
    sentences = [[(w, "O") for w in t.split()] for t in TEXTS]
    data = Data(sentences, runner.features)
    person = np.zeros(len(LABELS))
    person[LABEL_INDEX["B-PERS"]] = 1.0
    other = np.zeros(len(LABELS))
    other[LABEL_INDEX["O"]] = 1.0
    teacher = [np.stack([person] + [other] * (len(s) - 1)) for s in data.tokens]
    cfg = replace(
        NeuralConfig(),
        hidden=16,
        epochs=60,
        batch=2,
        lr=1e-2,
        dropout=0.0,
        ema=0.0,
        word_dropout=0.0,
    )
    vectors = runner.model.words.weight.detach()
    torch.set_num_threads(1)
    model, _, _ = train_model(
        data, runner.vocab, vectors, cfg, seed=1, teacher=teacher, distill=distill
    )
    return predict_probs(model, data)


def test_the_student_learns_what_the_teachers_say_against_the_labels() -> None:
    """At weight 1 the labels count for nothing: the first word becomes a person; at 0 the
    teachers count for nothing and it stays O (so the weight really switches the targets)."""
    b = LABEL_INDEX["B-PERS"]
    taught = _student(1.0)
    assert all(int(p[0].argmax()) == b for p in taught)
    assert all(int(p[1:].argmax(axis=1).max()) == LABEL_INDEX["O"] for p in taught)
    plain = _student(0.0)
    assert all(int(p[0].argmax()) == LABEL_INDEX["O"] for p in plain)


def test_teacher_probs_average_the_networks() -> None:
    """Two copies of one network average to its own probabilities."""
    tagger = load_tagger()
    sentences = [t.split() for t in TEXTS]
    path = DATA_DIR / NEURAL_FILE
    one = NeuralRunner(path, tagger.featurizer).probs(sentences)
    two = teacher_probs([path, path], sentences, tagger.featurizer)
    for a, b in zip(one, two, strict=True):
        assert a.shape == (len(b), len(LABELS))
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_a_mistyped_teacher_or_weight_stops_before_any_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator's typo fails in a second with the reason, not after building word vectors."""
    from marsad.ner.train_neural import main

    for argv, says in (
        (["--teacher", str(tmp_path / "nope.pt")], "no teacher network at"),
        (["--teacher", str(DATA_DIR / NEURAL_FILE), "--distill", "1.5"], "from 0 to 1"),
    ):
        with pytest.raises(SystemExit) as stop:
            main(["--data-dir", str(tmp_path), *argv])
        assert stop.value.code == 2
        assert says in capsys.readouterr().err
