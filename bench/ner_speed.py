"""Tokens per CPU second of the bundled NER: CRF only vs the CRF + neural ensemble.

Tags a CoNLL file (default: ANERcorp's CAMeL test split under ../shared) in one call, as
`marsad ner evaluate` does: cold = first call after loading (empty word-type caches), warm =
best of 3 re-tags. torch runs on one thread. Also prints load time and micro F1.

    python bench/ner_speed.py [--file PATH]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from marsad.ner.conll import read_conll, score
from marsad.ner.model import Tagger
from marsad.ner.resources import DATA_DIR

T = TypeVar("T")

DEFAULT = (
    Path(__file__).resolve().parents[1].parent
    / "shared/data/ner/anercorp/camel-split-reconstructed"
    / "ANERCorp_CamelLab_test.reconstructed.txt"
)


def _cpu(fn: Callable[[], T]) -> tuple[float, T]:
    c0 = time.process_time()
    out = fn()
    return time.process_time() - c0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DEFAULT)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    sents = read_conll(args.file)
    gold = [[lab or "O" for _, lab in s] for s in sents]
    tokens = [[t for t, _ in s] for s in sents]
    n = sum(map(len, tokens))
    for neural in (False, True):
        load, tagger = _cpu(lambda: Tagger(DATA_DIR, neural=neural))  # noqa: B023
        cold, pred = _cpu(lambda: tagger.tag(tokens))  # noqa: B023
        warm = min(_cpu(lambda: tagger.tag(tokens))[0] for _ in range(3))  # noqa: B023
        f1 = 100 * score(gold, pred).micro.f1
        print(
            f"{'ensemble' if neural else 'CRF only':<9} load {load:5.2f} s CPU  F1 {f1:.2f}  "
            f"cold {n / cold:8,.0f} tokens/s  warm {n / warm:8,.0f} tokens/s  ({n} tokens)"
        )


if __name__ == "__main__":
    main()
