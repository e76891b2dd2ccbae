"""Throughput of normalisation, tokenisation and watchlist linking on real Arabic news.

Reads one SaudiNewsNet shard from ../shared/data/corpus (research use only; never shipped),
one paragraph per line, and prints characters and tokens per second for each step.

    python bench/entities.py [--file PATH] [--lines N]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from marsad.entities import find_entities
from marsad.linking import load_linker
from marsad.ner.rules import RuleTagger
from marsad.text.arabic import normalise, tokenize

DEFAULT = (
    Path(__file__).resolve().parents[1].parent
    / "shared/data/corpus/saudinewsnet/saudinewsnet_000.txt"
)


def _rate(label: str, lines: list[str], fn: Callable[[str], object], n_tok: int) -> float:
    fn(lines[0])  # build tables and tries outside the timing
    t0 = time.perf_counter()
    for line in lines:
        fn(line)
    dt = time.perf_counter() - t0
    chars = sum(map(len, lines))
    print(f"{label:<34} {chars / dt / 1e6:8.2f} M chars/s {n_tok / dt / 1e3:10.0f} k tokens/s")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default=str(DEFAULT))
    ap.add_argument("--lines", type=int, default=20000)
    args = ap.parse_args()
    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"{path}: not found (pass --file)")
    lines = path.read_text(encoding="utf-8").splitlines()[: args.lines]
    n_tok = sum(len(tokenize(x)) for x in lines)
    print(f"{path.name}: {len(lines)} paragraphs, {sum(map(len, lines))} chars, {n_tok} tokens")
    linker = load_linker()
    rules = RuleTagger()
    _rate("normalise light", lines, lambda x: normalise(x, "light"), n_tok)
    _rate("normalise aggressive", lines, lambda x: normalise(x, "aggressive"), n_tok)
    _rate("tokenize", lines, tokenize, n_tok)
    _rate("watchlist find (normalise+match)", lines, linker.find, n_tok)
    _rate("rules tagger + linking", lines, lambda x: find_entities(x, rules, linker=linker), n_tok)
    ids = Counter(m.entry.id for x in lines for m in linker.find(x))
    total = sum(ids.values())
    print(f"watchlist matches: {total} ({total / n_tok * 1000:.1f} per 1000 tokens)")
    print("most matched:", ", ".join(f"{i} {n}" for i, n in ids.most_common(8)))


if __name__ == "__main__":
    main()
