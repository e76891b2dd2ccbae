"""`marsad ner tag|evaluate` on hostile files: one error line, never a traceback; a block
with no blank line is tagged in bounded sequences, one output line per input line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marsad.ner import cli
from marsad.ner.cli import MAX_LINE_BYTES, MAX_SEQ_TOKENS, main

WORDS = ["وصل", "الرئيس", "الفرنسي", "إلى", "بغداد", "أمس", "."]


def ner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marsad.cli", "ner", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "adir").mkdir()
    latin1 = tmp_path / "latin1.conll"
    latin1.write_bytes("بغداد\n".encode() + "café\n".encode("latin-1"))
    long_line = tmp_path / "long.conll"
    long_line.write_bytes(b"x" * (MAX_LINE_BYTES + 10))
    return {
        "missing": (tmp_path / "nope.conll", "no such file"),
        "directory": (tmp_path / "adir", "is a directory, not a CoNLL file"),
        "not-utf8": (latin1, "2: not UTF-8 (invalid continuation byte at byte 3 of the line)"),
        "device": (Path("/dev/zero"), "not a regular file"),
        "long-line": (long_line, f"1: line over {MAX_LINE_BYTES} bytes: not CoNLL"),
    }


def _expected(command: str, path: Path, why: str) -> str:
    sep = ":" if why[0].isdigit() else ": "
    return f"marsad ner {command}: error: {path}{sep}{why}\n"


def test_bad_files_are_one_error_line(tmp_path: Path) -> None:
    for path, why in _bad_inputs(tmp_path).values():
        proc = ner("tag", str(path))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == _expected("tag", path, why)  # no traceback
        assert proc.stdout == ""  # refused before any output


def test_evaluate_refuses_them_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path, why in _bad_inputs(tmp_path).values():
        assert main(["evaluate", str(path)]) == 2
        assert capsys.readouterr() == ("", _expected("evaluate", path, why))


def test_a_long_block_is_tagged_in_bounded_sequences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "BATCH_TOKENS", 300)  # several tagger calls, and blank lines
    n = 2 * MAX_SEQ_TOKENS + 37
    tokens = [WORDS[i % len(WORDS)] for i in range(n)]
    lines = [*tokens, "", *WORDS, "", "", *tokens[:MAX_SEQ_TOKENS]]  # the last: exactly at the cap
    path = tmp_path / "block.conll"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["tag", str(path)]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert len(out) == len(lines)
    for got, src in zip(out, lines, strict=True):
        assert (got == "") == (src == "")
        if got:
            token, label = got.split("\t")
            assert token == src and (label == "O" or label[:2] in ("B-", "I-"))
    assert captured.err == (
        f"marsad ner tag: {path}: 1 place(s) with more than {MAX_SEQ_TOKENS} tokens and no "
        f"blank line (first at line {MAX_SEQ_TOKENS + 1}); tagged as sequences of at most "
        f"{MAX_SEQ_TOKENS} tokens\n"
    )


def test_tag_bounded_reassembles_long_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    from marsad.ner import load_tagger

    monkeypatch.setattr(cli, "BATCH_TOKENS", 100)
    sents = [WORDS * 150, WORDS, [], WORDS * 3]  # 1050 tokens: three pieces
    labels = cli.tag_bounded(load_tagger(), sents)
    assert [len(lab) for lab in labels] == [len(s) for s in sents]


@settings(
    derandomize=True,
    database=None,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.lists(st.sampled_from([*WORDS, "", " ", "\t", "B-LOC", "x y z"]), max_size=60).map(
            lambda ws: "\n".join(ws).encode()
        ),
    )
)
def test_any_file_is_tagged_or_refused_in_one_line(
    data: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fuzz.conll"
    path.write_bytes(data)
    code = main(["tag", str(path)])
    captured = capsys.readouterr()
    if code == 2:
        assert captured.out == "" and captured.err.count("\n") == 1
        return
    assert code == 0
    data.decode("utf-8")  # refused otherwise
    n_lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    assert captured.out.count("\n") == n_lines  # one output line per input line
