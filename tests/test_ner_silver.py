"""Silver sentences for self-training (`marsad.ner.silver`), drawn from a corpus folder laid out
as the training data folder is. Every line here was written for these tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from marsad.ner import load_tagger
from marsad.ner.conll import read_conll, spans
from marsad.ner.decode import allowed
from marsad.ner.silver import build_silver, main
from marsad.ner.training_data import CORPUS_DIR, DATA_ENV

NAMED = [
    "قال الرئيس الأمريكي باراك أوباما في واشنطن إن الاتفاق مع إيران جيد .",
    "وصل وزير الخارجية السعودي عادل الجبير إلى القاهرة أمس في زيارة رسمية .",
    "أعلنت الأمم المتحدة أن مبعوثها سيزور دمشق وبغداد الأسبوع المقبل .",
    "التقى الملك سلمان بن عبد العزيز في الرياض رئيس وزراء بريطانيا .",
]
PLAIN = [
    "وقال إن الأمور تسير على ما يرام في هذه المرحلة من العمل .",
    "وأضاف أن الجميع يعملون بجد من أجل إنجاز المهمة في الوقت المحدد .",
]
SHORT = ["قال إنه سيعود .", "وصل أوباما إلى باريس ."]  # fewer than 8 tokens: never drawn


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    corpus = tmp_path / CORPUS_DIR
    corpus.mkdir(parents=True)
    lines = [*NAMED, *PLAIN, *SHORT, NAMED[0], NAMED[1]]  # two lines twice
    (corpus / "saudinewsnet_000.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_silver_keeps_distinct_sure_sentences_with_an_entity(data_dir: Path) -> None:
    out = data_dir / "silver.conll"
    report = build_silver(data_dir, out, n=50, threshold=0.5)
    sents = read_conll(out)
    assert report["kept"] == len(sents) > 0
    assert report["tagged"] == len(NAMED) + len(PLAIN)  # duplicates and short lines not drawn
    assert report["tagged"] == report["kept"] + report.get("no_entity", 0) + report.get(
        "low_confidence", 0
    )
    texts = [" ".join(t for t, _ in s) for s in sents]
    assert len(set(texts)) == len(texts) and set(texts) <= set(NAMED)
    for s in sents:
        labels = [lab or "O" for _, lab in s]
        assert 8 <= len(s) <= 60 and spans(labels)
        assert all(allowed(p, c) for p, c in zip([None, *labels], labels, strict=False))


def test_silver_is_the_same_for_a_seed_and_empty_when_nothing_is_sure(data_dir: Path) -> None:
    a, b, none = (data_dir / f"{k}.conll" for k in "abn")
    build_silver(data_dir, a, n=2, threshold=0.5, seed=7)
    build_silver(data_dir, b, n=2, threshold=0.5, seed=7)
    assert a.read_bytes() == b.read_bytes() and len(read_conll(a)) <= 2
    report = build_silver(data_dir, none, n=50, threshold=1.01)
    assert report["kept"] == 0 and none.read_text(encoding="utf-8") == ""


def test_ensemble_probs_are_distributions_over_the_labels() -> None:
    tagger = load_tagger()
    probs = tagger.ensemble_probs([NAMED[0].split(), PLAIN[0].split()])
    for p, s in zip(probs, (NAMED[0], PLAIN[0]), strict=True):
        assert p.shape == (len(s.split()), 9)
        assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_silver_without_a_data_folder_says_what_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert main(["--out", str(tmp_path / "s.conll")]) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_silver_reads_a_corpus_with_broken_bytes_and_odd_lines(tmp_path: Path) -> None:
    corpus = tmp_path / CORPUS_DIR
    corpus.mkdir(parents=True)
    odd = ["\x00" * 50, "ب" * 100_000, "", "« " * 40, NAMED[1]]
    tail = ("كلمة " * 9).encode()
    raw = ("\n".join(odd) + "\n").encode() + b"\xff\xfe \x80 " + tail + b"\n"
    (corpus / "saudinewsnet_000.txt").write_bytes(raw)
    report = build_silver(tmp_path, tmp_path / "s.conll", n=10, threshold=0.5)
    assert report["kept"] == 1 and report["tagged"] == 3  # the named line, « ×40, the bytes
