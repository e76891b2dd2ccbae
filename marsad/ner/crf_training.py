"""Training and scoring the CRF: L-BFGS settings, the dev split, python-crfsuite's trainer."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from marsad.ner.conll import score
from marsad.ner.features import Featurizer
from marsad.ner.resources import replacing

T = TypeVar("T")


@dataclass
class CrfParams:
    """L-BFGS settings; chosen on the document-contiguous dev split (see docs/ner.md)."""

    c1: float = 0.05
    c2: float = 0.01
    max_iterations: int = 300


def split_dev(
    sentences: Sequence[T], frac: float = 0.1, fold: tuple[int, int] | None = None
) -> tuple[list[T], list[T]]:
    """Last `frac` of sentences as dev: contiguous, so documents stay on one side (but for
    the one the cut falls in). `fold` (k, n): the k-th of n contiguous blocks instead (k from
    1; (10, 10) is the default split), for choices scored on several dev blocks."""
    if fold is None:
        cut = int(len(sentences) * (1 - frac))
        return list(sentences[:cut]), list(sentences[cut:])
    k, n = fold
    if not 1 <= k <= n:
        raise ValueError(f"fold {k} of {n}: k runs from 1 to n")
    lo, hi = len(sentences) * (k - 1) // n, len(sentences) * k // n
    return [*sentences[:lo], *sentences[hi:]], list(sentences[lo:hi])


def parse_fold(text: str) -> tuple[int, int]:
    """`K/N` (the k-th of n dev blocks) from a command line (an argparse `type`)."""
    k, sep, n = text.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise argparse.ArgumentTypeError(f"a fold is K/N with 1 <= K <= N, e.g. 2/10; got {text!r}")
    return int(k), int(n)


def train_crf(
    sentences: Sequence[Sequence[tuple[str, str | None]]],
    feat: Featurizer,
    model_path: Path,
    params: CrfParams,
) -> None:
    """Fit a linear-chain CRF with python-crfsuite and write it to `model_path`."""
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for sent in sentences:
        tokens = [t for t, _ in sent]
        labels = [lab or "O" for _, lab in sent]
        trainer.append(feat.sentence(tokens), labels)
    trainer.set_params(
        {
            "c1": params.c1,
            "c2": params.c2,
            "max_iterations": params.max_iterations,
            "feature.possible_transitions": True,
        }
    )
    with replacing(model_path) as tmp:
        trainer.train(str(tmp))


def evaluate_on(model_dir: Path, sentences: Sequence[Sequence[tuple[str, str | None]]]) -> str:
    """Score a model directory on labelled sentences; returns the table text."""
    from marsad.ner.model import Tagger

    tagger = Tagger(model_dir)
    gold = [[lab or "O" for _, lab in s] for s in sentences]
    t0 = time.process_time()
    pred = tagger.tag([[t for t, _ in s] for s in sentences])
    secs = time.process_time() - t0
    ntok = sum(len(s) for s in sentences)
    return score(gold, pred).table() + f"\n{ntok / secs:,.0f} tokens/s (CPU time, cold cache)"
