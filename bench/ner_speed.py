"""Speed and F1 of the bundled NER: CRF only, the ensemble's reference path, its fast path.

One process, one machine, one run, so before (`Tagger(fast=False)`: pycrfsuite marginals
read token by token, the network on every sentence) and after (`Tagger()`: numpy marginals
from cached per-type scores, the network only where the CRF leaves labels open) compare
fairly (the fast path also runs the network's recurrence on input projections cached per
word type, `marsad/ner/recurrence.py`). Two workloads:

- the test file (default: ANERcorp's CAMeL test split under ../shared) in one `tag()` call,
  as `marsad ner evaluate` does: tokens per CPU second, cold (first call after loading, empty
  caches) and warm (best of 3 re-tags), and micro F1;
- articles as the pipeline tags them (the throughput bench's pages, extracted and split into
  sentences by marsad, one `tag()` call per article, and in the last row `tag_docs` over
  `--batch` articles at a time, as the tag stage does since issue 17's batching): CPU ms per
  article, cold (first pass) and warm (second pass over the same articles), and whether the
  labels equal the reference.

`--before DIR` adds a first row: the reference path with the model files in DIR (an earlier
commit's `marsad/ner/data`), i.e. the path and the model from before, for F1 and speed.

torch runs on one thread.

    python bench/ner_speed.py [--file PATH] [--articles N] [--batch 30] [--before DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
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
Docs = list[list[list[str]]]


def _cpu(fn: Callable[[], T]) -> tuple[float, T]:
    c0 = time.process_time()
    out = fn()
    return time.process_time() - c0, out


def article_docs(n: int) -> Docs:
    """The first `n` benchmark pages as the pipeline's tag stage sees them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import data_root
    from throughput import articles, load_pages

    from marsad.extract import extract_articles
    from marsad.text.arabic import normalise_articles, sentences, tokenize

    pages = load_pages(data_root())
    done, _ = extract_articles(articles(0, min(n, len(pages)), pages))
    docs: Docs = []
    for art in normalise_articles(done):
        text = art.text or ""
        docs.append([[t.text for t in s] for s in sentences(tokenize(text), text)])
    return docs


def _tag_articles(tagger: Tagger, docs: Docs, batch: int) -> list[list[list[str]]]:
    """Each article's labels: one `tag` call per article (batch 0), as before issue 17's
    batching, or `tag_docs` over `batch` articles at a time, as the tag stage now does."""
    if not batch:
        return [tagger.tag(d) for d in docs]
    return [
        labs for k in range(0, len(docs), batch) for labs in tagger.tag_docs(docs[k : k + batch])
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DEFAULT)
    ap.add_argument("--articles", type=int, default=200, help="benchmark pages to tag (0: none)")
    ap.add_argument("--batch", type=int, default=30, help="articles per tag_docs call (last row)")
    ap.add_argument("--before", type=Path, default=None, metavar="DIR", help="model files before")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    sents = read_conll(args.file)
    gold = [[lab or "O" for _, lab in s] for s in sents]
    tokens = [[t for t, _ in s] for s in sents]
    n = sum(map(len, tokens))
    docs = article_docs(args.articles) if args.articles else []
    ntok = sum(len(s) for d in docs for s in d)
    print(f"test file: {n} tokens; articles: {len(docs)} ({ntok} tokens)")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    ref_labels: list[list[list[str]]] | None = None
    rows = [
        ("CRF only", DATA_DIR, False, True, 0),
        ("ensemble, reference (fast=False)", DATA_DIR, True, False, 0),
        ("ensemble, fast (default)", DATA_DIR, True, True, 0),
        (f"ensemble, fast, tag_docs x{args.batch}", DATA_DIR, True, True, args.batch),
    ]
    if args.before is not None:
        rows.insert(0, ("before: reference, --before model", args.before, True, False, 0))
    for name, model, neural, fast, batch in rows:
        load, tagger = _cpu(lambda: Tagger(model, neural=neural, fast=fast))  # noqa: B023
        cold, pred = _cpu(lambda: tagger.tag(tokens))  # noqa: B023
        warm = min(_cpu(lambda: tagger.tag(tokens))[0] for _ in range(3))  # noqa: B023
        f1 = 100 * score(gold, pred).micro.f1
        print(
            f"{name:<33} load {load:5.2f} s CPU  F1 {f1:.2f}  "
            f"cold {n / cold:8,.0f} tokens/s  warm {n / warm:8,.0f} tokens/s"
        )
        if not docs:
            continue
        a_cold, labels = _cpu(lambda: _tag_articles(tagger, docs, batch))  # noqa: B023
        a_warm, _ = _cpu(lambda: _tag_articles(tagger, docs, batch))  # noqa: B023
        same = ""
        if neural and model == DATA_DIR and ref_labels is None:
            ref_labels = labels
        elif neural and model == DATA_DIR:
            same = f"  labels equal the reference: {labels == ref_labels}"
        print(
            f"{'':<33} articles: cold {1000 * a_cold / len(docs):6.1f} ms  "
            f"warm {1000 * a_warm / len(docs):6.1f} ms per article  "
            f"({ntok / a_warm:,.0f} tokens/s warm){same}"
        )
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
