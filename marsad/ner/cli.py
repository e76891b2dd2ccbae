"""`marsad ner train | evaluate | tag` (wired to the main CLI as `marsad.ner.cli.main`).

Input files are bounded like the network path: a missing, unreadable, non-UTF-8 or
non-regular file is one error line (exit 2), a line over 64 KiB is refused, and a block
without blank lines is tagged in sequences of at most MAX_SEQ_TOKENS (said on stderr), in
batches of about BATCH_TOKENS: a 1M-line block once took 9.5 GB as one sequence.
"""

from __future__ import annotations

import argparse
import logging
import os
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from marsad.ner.conll import read_conll, score
from marsad.outdir import writable_dir

if TYPE_CHECKING:
    from marsad.ner.model import Tagger

MAX_SEQ_TOKENS = 500  # news sentences are far shorter; past ~1000 tagging time grows faster
BATCH_TOKENS = 20_000  # tokens per tagger call: about +150 MB however long the file
MAX_LINE_BYTES = 65_536


class InputError(Exception):
    """An input file the NER commands cannot read; the message is one line for the operator."""


def check_input(path: Path) -> None:
    """Refuse, before any output, a file that is missing, not a regular file (a directory,
    /dev/zero, a FIFO), unreadable, not UTF-8 or with an over-long line."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory, not a CoNLL file")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: not a regular file")
    for _ in lines(path):
        pass


def lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file, refusing lines over MAX_LINE_BYTES."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below; errors mapped first)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        n = 0
        while raw := handle.readline(MAX_LINE_BYTES + 1):
            n += 1
            if len(raw) > MAX_LINE_BYTES:
                raise InputError(f"{path}:{n}: line over {MAX_LINE_BYTES} bytes: not CoNLL")
            try:
                yield n, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path}:{n}: not UTF-8 ({exc.reason} at byte {exc.start} of the line)"
                ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marsad ner",
        description=__doc__,
        epilog="Example:\n  marsad ner tag sentences.conll\n  marsad ner evaluate test.conll",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, summary: str, example: str) -> argparse.ArgumentParser:
        epilog = f"Example:\n  marsad ner {name} {example}"
        raw = argparse.RawDescriptionHelpFormatter
        return sub.add_parser(
            name, help=summary, description=summary + ".", epilog=epilog, formatter_class=raw
        )

    tr = command("train", "rebuild the bundled model from the training data", "--dev")
    from marsad.ner.crf_training import parse_fold
    from marsad.ner.resources import DATA_DIR
    from marsad.ner.train import SEED
    from marsad.ner.training_data import DATA_HELP

    tr.add_argument("--data-dir", type=Path, default=None, metavar="DIR", help=DATA_HELP)
    tr.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    tr.add_argument("--out", type=writable_dir, default=DATA_DIR, help="where the model files go")
    tr.add_argument("--dev", action="store_true", help="hold out last 10%% of train, report dev")
    tr.add_argument(
        "--fold",
        type=parse_fold,
        default=None,
        metavar="K/N",
        help="with --dev: the k-th of n contiguous blocks of train is dev instead of the last 10%%",
    )
    tr.add_argument("--reuse", action="store_true", help="keep existing cluster/gazetteer files")
    tr.add_argument("--no-neural", action="store_true", help="CRF only: no neural tagger (torch)")
    tr.add_argument(
        "--no-self-train",
        action="store_true",
        help="the network on the gold sentences only (no silver round)",
    )
    ev = command("evaluate", "tag a CoNLL file and score it against its labels", "test.conll")
    ev.add_argument("file", type=Path, help="CoNLL file: token<TAB>label lines")
    tg = command("tag", "print token<TAB>label for a CoNLL file", "sentences.conll")
    tg.add_argument("file", type=Path, help="CoNLL file: a token (first column) per line")
    for p in (ev, tg):
        p.add_argument("--model-dir", type=Path, default=None, help=argparse.SUPPRESS)
    return parser


def _tagger(model_dir: Path | None) -> Tagger:
    """The cached bundled tagger, or one loaded from another model folder."""
    if model_dir is None:
        from marsad.ner import load_tagger

        return load_tagger()
    from marsad.ner.model import Tagger

    return Tagger(model_dir)


def _evaluate(path: Path, model_dir: Path | None) -> int:
    """Score gold vs prediction; a 3-column file (token gold pred) is scored as is."""
    check_input(path)
    three = any(len(line.split()) >= 3 for _, line in lines(path))
    if three:
        rows = [[line.split() for line in block] for block in _raw_blocks(path)]
        gold = [[r[1] for r in b] for b in rows if b]
        pred = [[r[-1] for r in b] for b in rows if b]
    else:
        sents = read_conll(path)
        gold = [[lab or "O" for _, lab in s] for s in sents]
        tagger = _tagger(model_dir)
        t0, c0 = time.perf_counter(), time.process_time()
        pred = tag_bounded(tagger, [[t for t, _ in s] for s in sents])
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        ntok = sum(len(g) for g in gold)
        print(
            f"tagged {ntok} tokens in {secs:.2f}s wall, {cpu:.2f}s CPU "
            f"({ntok / max(cpu, 1e-9):,.0f} tokens/s per CPU second)"
        )
    print(score(gold, pred).table())
    return 0


def _raw_blocks(path: Path) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for _, line in lines(path):
        if line.strip():
            blocks[-1].append(line)
        else:
            blocks.append([])
    return blocks


def tag_bounded(tagger: Tagger, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
    """Labels per sentence, tagging pieces of at most MAX_SEQ_TOKENS, BATCH_TOKENS at a time."""
    pieces = [
        list(s[i : i + MAX_SEQ_TOKENS]) for s in sentences for i in range(0, len(s), MAX_SEQ_TOKENS)
    ]
    labels: list[list[str]] = []
    batch: list[list[str]] = []
    for piece in [*pieces, None]:
        if piece is None or sum(map(len, batch)) + len(piece) > BATCH_TOKENS:
            labels.extend(tagger.tag(batch) if batch else [])
            batch = []
        if piece is not None:
            batch.append(piece)
    out: list[list[str]] = []
    it = iter(labels)
    for s in sentences:
        out.append([lab for _ in range(0, len(s), MAX_SEQ_TOKENS) for lab in next(it)])
    return out


class _TagWriter:
    """Tags a stream of lines, one output line per input line, in bounded batches."""

    def __init__(self, tagger: Tagger, out: TextIO) -> None:
        self.tagger, self.out = tagger, out
        self.pending: list[list[str] | None] = []  # a sequence, or None for a blank line
        self.tokens = 0

    def add(self, item: list[str] | None) -> None:
        self.pending.append(item)
        self.tokens += len(item or ())
        if self.tokens >= BATCH_TOKENS:
            self.flush()

    def flush(self) -> None:
        seqs = [p for p in self.pending if p]
        labels = iter(self.tagger.tag(seqs) if seqs else [])
        text: list[str] = []
        for item in self.pending:
            if item is None:
                text.append("\n")
            else:
                text.extend(f"{t}\t{lab}\n" for t, lab in zip(item, next(labels), strict=True))
        self.out.write("".join(text))
        self.pending, self.tokens = [], 0


def _tag(path: Path, model_dir: Path | None) -> int:
    """Keep every blank line and the input order: one output line per input line."""
    check_input(path)
    writer = _TagWriter(_tagger(model_dir), sys.stdout)
    current: list[str] = []
    split: list[int] = []  # the line of each over-long block's first cut
    cut = False  # the block being read was cut already
    for n, line in lines(path):
        parts = line.split()
        if parts:
            if len(current) == MAX_SEQ_TOKENS:  # one token more: cut here
                split += [] if cut else [n]
                cut = True
                writer.add(current)
                current = []
            current.append(parts[0])
            continue
        if current:
            writer.add(current)
            current = []
        cut = False
        writer.add(None)
    if current:
        writer.add(current)
    writer.flush()
    if split:
        print(
            f"marsad ner tag: {path}: {len(split)} place(s) with more than {MAX_SEQ_TOKENS} "
            f"tokens and no blank line (first at line {split[0]}); tagged as sequences of "
            f"at most {MAX_SEQ_TOKENS} tokens",
            file=sys.stderr,
        )
    return 0


def main(argv: list[str]) -> int:
    """Entry point: returns a process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        if args.fold and not args.dev:
            parser.error("--fold K/N picks a dev block: use it with --dev")
        from marsad.ner.training_data import TrainingDataError, resolve_data_dir

        try:
            data_dir = resolve_data_dir(args.data_dir)
        except TrainingDataError as exc:
            print(f"marsad ner train: error: {exc}", file=sys.stderr)
            return 2
        from marsad.ner.train import build

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        print(
            build(
                data_dir,
                args.out,
                args.seed,
                dev=args.dev,
                reuse=args.reuse,
                neural=not args.no_neural,
                self_train=not args.no_self_train,
                fold=args.fold,
            )
        )
        return 0
    try:
        if args.command == "evaluate":
            return _evaluate(args.file, args.model_dir)
        return _tag(args.file, args.model_dir)
    except InputError as exc:
        print(f"marsad ner {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
