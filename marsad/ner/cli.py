"""`marsad ner train | evaluate | tag` (wired to the main CLI as `marsad.ner.cli.main`)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from marsad.ner.conll import read_blocks, read_conll, score

if TYPE_CHECKING:
    from marsad.ner.model import Tagger


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marsad ner", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="rebuild the bundled model from the training data")
    from marsad.ner.resources import DATA_DIR
    from marsad.ner.train import SEED
    from marsad.ner.training_data import DATA_HELP

    tr.add_argument("--data-dir", type=Path, default=None, metavar="DIR", help=DATA_HELP)
    tr.add_argument("--seed", type=int, default=SEED)
    tr.add_argument("--out", type=Path, default=DATA_DIR, help="where the model files go")
    tr.add_argument("--dev", action="store_true", help="hold out last 10%% of train, report dev")
    tr.add_argument("--reuse", action="store_true", help="keep existing cluster/gazetteer files")
    tr.add_argument("--no-neural", action="store_true", help="CRF only: no neural tagger (torch)")
    ev = sub.add_parser("evaluate", help="tag a CoNLL file and score it against its labels")
    ev.add_argument("file", type=Path)
    tg = sub.add_parser("tag", help="print token<TAB>label for a CoNLL file")
    tg.add_argument("file", type=Path)
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
    with open(path, encoding="utf-8") as handle:
        three = any(len(line.split()) >= 3 for line in handle)
    if three:
        rows = [[line.split() for line in block] for block in _raw_blocks(path)]
        gold = [[r[1] for r in b] for b in rows if b]
        pred = [[r[-1] for r in b] for b in rows if b]
    else:
        sents = read_conll(path)
        gold = [[lab or "O" for _, lab in s] for s in sents]
        tagger = _tagger(model_dir)
        t0, c0 = time.perf_counter(), time.process_time()
        pred = tagger.tag([[t for t, _ in s] for s in sents])
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
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                blocks[-1].append(line)
            else:
                blocks.append([])
    return blocks


def _tag(path: Path, model_dir: Path | None) -> int:
    """Keep every blank line and the input order: one block per run of non-blank lines."""
    blocks = read_blocks(path)
    labels = _tagger(model_dir).tag([b for b in blocks if b])
    it = iter(labels)
    out: list[str] = []
    for i, block in enumerate(blocks):
        if block:
            out.extend(f"{tok}\t{lab}" for tok, lab in zip(block, next(it), strict=True))
        if i < len(blocks) - 1:
            out.append("")
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))
    return 0


def main(argv: list[str]) -> int:
    """Entry point: returns a process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "train":
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
            )
        )
        return 0
    if args.command == "evaluate":
        return _evaluate(args.file, args.model_dir)
    return _tag(args.file, args.model_dir)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
