"""Model files are replaced whole: a training stopped while it writes leaves the old file."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from marsad.ner.resources import replacing, write_gazetteer


def test_a_block_that_fails_leaves_the_old_file_and_no_partial(tmp_path: Path) -> None:
    path = tmp_path / "ner.crfsuite"
    path.write_bytes(b"old model")
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        tmp.write_bytes(b"half a new")
        raise RuntimeError("disk full")
    assert path.read_bytes() == b"old model"
    assert list(tmp_path.iterdir()) == [path]


def test_a_block_that_ends_well_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ner.crfsuite"
    path.write_bytes(b"old model")
    with replacing(path) as tmp:
        tmp.write_bytes(b"new model")
    assert path.read_bytes() == b"new model"
    assert list(tmp_path.iterdir()) == [path]


class Failing(Mapping[str, str]):
    """Triggers whose reading fails halfway, as an interrupted gazetteer build would."""

    def __getitem__(self, key: str) -> str:
        raise KeyboardInterrupt

    def __iter__(self) -> Iterator[str]:
        return iter(["a", "b"])

    def __len__(self) -> int:
        return 2


def test_an_interrupted_gazetteer_write_keeps_the_old_gazetteer(tmp_path: Path) -> None:
    path = tmp_path / "gazetteer.tsv.gz"
    write_gazetteer(path, {"بغداد": ["loc"]}, {"باب المندب": "LOC"}, {})
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        write_gazetteer(path, {"دمشق": ["loc"]}, {}, Failing())
    assert path.read_bytes() == before
    assert "بغداد" in gzip.decompress(before).decode()


KILLED_WRITER = """
import sys, time
from pathlib import Path
from marsad.ner.resources import replacing
with replacing(Path(sys.argv[1])) as tmp:
    with open(tmp, "wb") as fh:
        fh.write(b"x" * 1_000_000)
        fh.flush()
        print("writing", flush=True)
        time.sleep(60)
"""


def test_a_writer_killed_mid_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "ner-neural.pt"
    path.write_bytes(b"old network")
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert path.read_bytes() == b"old network"
    partial = path.with_name(path.name + ".partial")
    assert partial.stat().st_size == 1_000_000  # what the kill cut short, beside it


def test_network_and_crf_replace_the_old_files_and_leave_nothing_beside(tmp_path: Path) -> None:
    """`neural.save` and `train_crf` replace what is there, and leave nothing beside it."""
    import pycrfsuite
    import torch

    from marsad.ner import load_tagger
    from marsad.ner.crf_training import CrfParams, train_crf
    from marsad.ner.neural import NeuralRunner, save

    tagger = load_tagger()
    assert tagger.neural is not None
    net, crf = tmp_path / "ner-neural.pt", tmp_path / "ner.crfsuite"
    net.write_bytes(b"old network")
    crf.write_bytes(b"old crf")
    runner = tagger.neural
    save(net, runner.model, runner.vocab, 0.4, 0.95, True)
    loaded = NeuralRunner(net, tagger.featurizer)
    assert (loaded.mix, loaded.settle, loaded.settle_o_only) == (0.4, 0.95, True)
    mine, theirs = loaded.model.state_dict(), runner.model.state_dict()
    assert all(torch.equal(mine[k].float(), theirs[k].float()) for k in theirs)
    sents = [[("زيد", "B-PERS"), ("وصل", "O")], [("قال", "O"), ("عمرو", "B-PERS")]]
    train_crf(sents, tagger.featurizer, crf, CrfParams(max_iterations=5))
    check = pycrfsuite.Tagger()
    check.open(str(crf))
    assert set(check.labels()) == {"B-PERS", "O"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ner-neural.pt", "ner.crfsuite"]


def test_the_corpus_file_is_written_whole_and_then_reused(tmp_path: Path) -> None:
    from marsad.ner.clusters import prepare_corpus
    from marsad.ner.training_data import CORPUS_DIR

    (tmp_path / CORPUS_DIR).mkdir(parents=True)
    (tmp_path / CORPUS_DIR / "saudinewsnet_00.txt").write_text("قال الأمير، إن\n", "utf-8")
    out = tmp_path / "work" / "saudinewsnet.norm.txt"
    out.parent.mkdir()
    assert prepare_corpus(tmp_path, out) == out
    assert out.read_text("utf-8") == "قال الامير ، ان\n"
    assert list(out.parent.iterdir()) == [out]
    out.write_text("kept\n", "utf-8")  # a finished file is the cache: not written again
    prepare_corpus(tmp_path, out)
    assert out.read_text("utf-8") == "kept\n"
