"""Precision and recall of `country` on the LOC mentions of real pages.

Pages: the 6 demo articles (seeds/demo) and the 12 files of ../shared/bench/arabic-pages
(evaluation only, never shipped). Each page is extracted and tagged as the pipeline does
(rule tagger, ner_neural=False as in the demo run, shipped watchlist), and every LOC mention is
compared with bench/place_labels.json: (page, start, end, text) -> the expected ISO country, or
null for a mention that is not a place of one country (a region, a tagger error).

- precision: correct countries / mentions given a country;
- recall: correct countries / labelled mentions whose expected country is not null.

    .venv/bin/python bench/places.py            # score
    .venv/bin/python bench/places.py --dump     # unlabelled mentions, as label stubs (no answer)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

from marsad.charset import decode
from marsad.demo import demo_root
from marsad.entities import find_entities
from marsad.extract import extract_text
from marsad.linking import load_linker
from marsad.ner.backends import tagger_for
from marsad.places import resolve_places
from marsad.record import Entity
from marsad.settings import Settings

HERE = Path(__file__).resolve().parent
LABELS = HERE / "place_labels.json"
PAGES = HERE.parents[1] / "shared" / "bench" / "arabic-pages"


def pages(arabic: Path) -> Iterator[tuple[str, str]]:
    """(name, html) of the demo articles, then of the Arabic benchmark pages."""
    for path in sorted((demo_root() / "articles").glob("*.html")):
        yield f"demo/{path.name}", path.read_text("utf-8")  # stored as UTF-8 (marsad.demo)
    with open(arabic / "manifest.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            path = arabic / row["file"]
            raw = path.read_bytes()
            raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
            yield f"arabic/{path.name}", decode(raw)


def key(page: str, e: Entity) -> str:
    return f"{page}|{e.start}|{e.end}|{e.text}"


def main() -> None:
    ap = argparse.ArgumentParser(description="country precision/recall on LOC mentions")
    ap.add_argument("--pages", type=Path, default=PAGES, help="the arabic-pages folder")
    ap.add_argument("--dump", action="store_true", help="print stubs for unlabelled mentions")
    args = ap.parse_args()
    settings = Settings(ner_neural=False)
    tagger = tagger_for(settings.ner_backend, settings.ner_neural)
    linker = load_linker(settings.watchlist)
    labels: dict[str, str | None] = json.loads(LABELS.read_text("utf-8")) if LABELS.exists() else {}
    scored: list[tuple[str, str | None, str | None]] = []  # (key, got, want)
    stubs: dict[str, str] = {}
    seconds = 0.0
    for page, html in pages(args.pages):
        _meta, text = extract_text(html)
        ents = find_entities(text, tagger, linker=linker)
        t0 = time.perf_counter()
        resolve_places(ents, linker.entries)  # again, to time it alone (idempotent)
        seconds += time.perf_counter() - t0
        for e in ents:
            k = key(page, e)
            if e.label != "LOC":
                continue
            if k in labels:
                scored.append((k, e.country, labels[k]))
            else:
                stubs[k] = text[max(0, e.start - 40) : e.end + 40].replace("\n", " ")
    if args.dump:
        print(json.dumps(stubs, ensure_ascii=False, indent=1))
        return
    print(f"unlabelled LOC mentions: {len(stubs)}; resolving places: {seconds * 1000:.1f} ms")
    for name, prefix in (("demo", "demo/"), ("arabic-pages", "arabic/"), ("all", "")):
        print(score(name, [s for s in scored if s[0].startswith(prefix)]))
    for k, got, want in scored:
        if got != want:
            print(f"  miss: {k}: got {got}, want {want}")


def score(name: str, rows: list[tuple[str, str | None, str | None]]) -> str:
    tp = sum(got is not None and got == want for _, got, want in rows)
    given = sum(got is not None for _, got, _ in rows)
    expected = sum(want is not None for _, _, want in rows)
    p, r = (tp / given if given else 0.0), (tp / expected if expected else 0.0)
    return (
        f"{name:>12}: {len(rows)} LOC mentions, {expected} with a country; "
        f"precision {p:.3f} ({tp}/{given}), recall {r:.3f} ({tp}/{expected})"
    )


if __name__ == "__main__":
    main()
