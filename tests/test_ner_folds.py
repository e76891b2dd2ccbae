"""Dev blocks for k-fold choices (`crf_training.split_dev(fold=...)`, `--fold K/N`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marsad.ner.crf_training import parse_fold, split_dev


@given(st.integers(0, 500), st.integers(1, 12))
def test_the_dev_blocks_of_n_folds_cover_every_sentence_once(size: int, n: int) -> None:
    sentences = list(range(size))
    devs = []
    for k in range(1, n + 1):
        train, dev = split_dev(sentences, fold=(k, n))
        assert sorted(train + dev) == sentences  # each fold: a partition
        if dev:  # one contiguous block
            assert dev == list(range(dev[0], dev[0] + len(dev)))
        assert abs(len(dev) - size / n) < 1
        devs += dev
    assert devs == sentences  # the blocks, in order, are the whole list


def test_the_last_of_ten_folds_is_the_default_dev_split() -> None:
    sentences = list(range(3962))  # ANERcorp's train split
    assert split_dev(sentences, fold=(10, 10)) == split_dev(sentences)


@pytest.mark.parametrize("text", ["0/5", "6/5", "3", "a/b", "2/", "/5", "-1/5"])
def test_a_mistyped_fold_is_refused(text: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="K/N"):
        parse_fold(text)


def test_parse_fold() -> None:
    assert parse_fold("2/10") == (2, 10)


@pytest.mark.parametrize("module", ["marsad.ner.cli", "marsad.ner.train_neural"])
def test_fold_without_dev_stops_with_the_reason(
    module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib

    main = importlib.import_module(module).main
    argv = ["--data-dir", str(tmp_path), "--fold", "2/10"]
    with pytest.raises(SystemExit) as stop:
        main(["train", *argv] if module.endswith("cli") else argv)
    assert stop.value.code == 2
    assert "use it with --dev" in capsys.readouterr().err
