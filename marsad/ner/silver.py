"""Silver training sentences for self-training: unlabelled news tagged by a trained ensemble,
kept only where it is sure of every token.

The shipped network is trained on ANERcorp plus 3,500 such sentences, tagged by the network
trained on ANERcorp alone with the CRF: 74.81 on the test split against 73.13 before, 76.28
mixed with the CRF at 0.4 instead of 0.5 (docs/ner.md, "Test"). This writes the silver
file; `python -m marsad.ner.train_neural --silver FILE` trains on it (`marsad ner train` runs
both).

    python -m marsad.ner.silver --data-dir DIR --out silver.conll [--n 3500] [--seed 13]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from marsad.ner.clusters import simple_tokenize
from marsad.ner.conll import spans
from marsad.ner.decode import LABEL_INDEX, viterbi_batch
from marsad.ner.model import Tagger
from marsad.ner.resources import DATA_DIR
from marsad.ner.training_data import CORPUS_DIR, DATA_HELP, TrainingDataError, resolve_data_dir
from marsad.text.arabic import fold_token

# The shipped network's silver comes from the first ten corpus files.
FILES = "saudinewsnet_00*.txt"
Sentence = tuple[list[str], list[str]]


def drawn_lines(
    paths: Sequence[Path], seed: int, min_len: int = 8, max_len: int = 60
) -> Iterator[list[str]]:
    """Tokenised lines of the corpus in a seeded random order, of 8–60 tokens, each distinct
    (by folded tokens) once. Tokens stay as written: the tagger folds them itself."""
    lines = [ln for p in paths for ln in p.read_text("utf-8", errors="replace").splitlines()]
    order = list(range(len(lines)))
    random.Random(seed).shuffle(order)
    seen: set[tuple[str, ...]] = set()
    for i in order:
        toks = simple_tokenize(lines[i])
        key = tuple(fold_token(t) for t in toks)
        if min_len <= len(toks) <= max_len and key not in seen:
            seen.add(key)
            yield toks


def sure_sentences(
    tagger: Tagger, sentences: Sequence[list[str]], threshold: float, stats: Counter[str]
) -> list[Sentence]:
    """The sentences with an entity whose every token's label has a mixed probability of at
    least `threshold`, with those labels (each sentence alone: no repeat pass)."""
    mixed = tagger.ensemble_probs(sentences)
    kept: list[Sentence] = []
    for toks, probs, labs in zip(sentences, mixed, viterbi_batch(mixed), strict=True):
        stats["tagged"] += 1
        if labs.count("O") == len(labs):
            stats["no_entity"] += 1
        elif probs[np.arange(len(labs)), [LABEL_INDEX[lab] for lab in labs]].min() < threshold:
            stats["low_confidence"] += 1
        else:
            kept.append((toks, labs))
    return kept


def build_silver(
    data_dir: Path,
    out: Path,
    n: int = 3500,
    seed: int = 13,
    threshold: float = 0.9,
    model_dir: Path = DATA_DIR,
    files: str = FILES,
    chunk: int = 2000,
) -> dict[str, object]:
    """Write up to `n` silver sentences to `out` (CoNLL: token TAB label, blank line between)."""
    paths = sorted((data_dir / CORPUS_DIR).glob(files))
    if not paths:
        raise TrainingDataError(f"no corpus files {files} in {data_dir / CORPUS_DIR}")
    tagger = Tagger(model_dir)
    if tagger.neural is None:
        raise TrainingDataError(f"{model_dir}: silver needs the ensemble (no network file)")
    stats: Counter[str] = Counter()
    kept: list[Sentence] = []
    lines = drawn_lines(paths, seed)
    while len(kept) < n:
        batch = [toks for _, toks in zip(range(chunk), lines, strict=False)]
        if not batch:
            break
        kept += sure_sentences(tagger, batch, threshold, stats)
    kept = kept[:n]
    with out.open("w", encoding="utf-8") as fh:
        for toks, labs in kept:
            fh.write("".join(f"{t}\t{lab}\n" for t, lab in zip(toks, labs, strict=True)) + "\n")
    entities = Counter(t for _, labs in kept for _, _, t in spans(labs))
    return {"kept": len(kept), **stats, "entities": dict(entities)}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m marsad.ner.silver", description=__doc__)
    ap.add_argument("--data-dir", type=Path, default=None, metavar="DIR", help=DATA_HELP)
    ap.add_argument("--out", type=Path, required=True, help="the silver CoNLL file to write")
    ap.add_argument("--n", type=int, default=3500, help="sentences to keep")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threshold", type=float, default=0.9, help="least probability a token")
    ap.add_argument("--model-dir", type=Path, default=DATA_DIR, help="the tagging ensemble")
    ap.add_argument("--files", default=FILES, help="corpus files (glob) to draw lines from")
    args = ap.parse_args(argv)
    try:
        data_dir = resolve_data_dir(args.data_dir)
        report = build_silver(
            data_dir, args.out, args.n, args.seed, args.threshold, args.model_dir, args.files
        )
    except TrainingDataError as exc:
        print(f"{ap.prog}: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
