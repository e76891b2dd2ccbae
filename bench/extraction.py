"""Extraction quality: marsad's extract stage beside trafilatura's extract() on three page sets.

    python bench/extraction.py [--data DIR] [--systems a,b,...] [--jobs 2]

ScrapingHub (181 pages): the benchmark's 4-gram shingle P/R/F1 and exact-match accuracy, plus
plain bag-of-token F1 (whitespace tokens). trafilatura-eval (990 pages): "with" snippets
found (TP) or missed (FN), "without" snippets found (FP) or absent (TN), summed over the
corpus. Arabic pages with ground truth: token F1 on full texts, snippets on Assabah, and
publication dates. Every figure is given on all pages, on the tuning half and on the
held-out half (split: bench/_common.is_tune, sha1 of the file name).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import trafilatura
from _common import (
    Page,
    arabic_pages,
    data_root,
    scrapinghub,
    scrapinghub_scores,
    snippet_counts,
    snippet_scores,
    token_f1,
    trafilatura_eval,
)

from marsad.charset import decode
from marsad.extract import ExtractError, extract_html

Output = tuple[str | None, str | None]  # (text, ISO date or UTC datetime)


def day_right(found: str | None, truth: str, any_zone: bool = False) -> bool:
    """Same calendar day; with any_zone, a UTC time that is on that day in some time zone
    (UTC-12..UTC+14) counts too: pages state local days, marsad stores UTC instants."""
    if not found:
        return False
    if found[:10] == truth:
        return True
    if not any_zone or "T" not in found:
        return False
    t = datetime.fromisoformat(found)
    start = datetime.fromisoformat(truth).replace(tzinfo=UTC)
    return start - timedelta(hours=14) <= t < start + timedelta(hours=36)


def _traf(**options: bool) -> Callable[[Page], Output]:
    def run(page: Page) -> Output:
        text = trafilatura.extract(page.raw, url=page.url, **options)
        if not page.date:
            return text, None
        # The date in a second pass, only for pages with a true date: metadata costs time.
        doc = trafilatura.bare_extraction(page.raw, url=page.url, with_metadata=True, **options)
        return text, (doc.date[:10] if doc is not None and doc.date else None)

    return run


def _marsad(page: Page) -> Output:
    try:
        ex = extract_html(decode(page.raw, "text/html"), page.url)
    except ExtractError:
        return None, None
    return ex.text, ex.published_at.isoformat() if ex.published_at else None


SYSTEMS: dict[str, Callable[[Page], Output]] = {
    "marsad": _marsad,
    "trafilatura-default": _traf(),  # extract() with the library's defaults
    "trafilatura-bench": _traf(include_comments=False),  # trafilatura-eval's own settings
    "trafilatura-precision": _traf(include_comments=False, favor_precision=True),
    "trafilatura-recall": _traf(include_comments=False, favor_recall=True),
}

PUBLISHED_SH = (
    "published (origin README): trafilatura 2.0.0 F1 0.958 P 0.938 R 0.978 acc 0.293; "
    "readability_js 0.947; newspaper4k 0.949; goose3 0.896; justext 0.804; html-text 0.665"
)
PUBLISHED_TE = (
    "published (trafilatura docs, 2026-08-04): trafilatura 2.2.0 standard P 0.906 R 0.943 "
    "Acc 0.923 F 0.924; precision F 0.920; fast F 0.918; readability-lxml F 0.826"
)
PUBLISHED_AR = (
    "published: none per page (htmldate on its 1000-page set: extensive F 0.949, fast F 0.925)"
)


def _run_one(args: tuple[str, Page]) -> tuple[Output, float]:
    name, page = args
    t0 = time.perf_counter()
    try:
        out = SYSTEMS[name](page)
    except Exception:  # a crash is a full miss, as in the benchmarks
        out = (None, None)
    return out, time.perf_counter() - t0


def _subsets(pages: list[Page]) -> dict[str, list[int]]:
    idx = range(len(pages))
    return {
        "all": list(idx),
        "tune": [i for i in idx if pages[i].tune],
        "held-out": [i for i in idx if not pages[i].tune],
    }


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _split_table(
    title: str,
    header: list[str],
    pages: list[Page],
    outs: dict[str, list[Output]],
    cells: Callable[[list[Output], list[int]], list[str]],
) -> list[str]:
    """One row per split and system: the figures `cells` computes for those pages."""
    cols = ["system", "split", "n", *header]
    lines = [title, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for split, idx in _subsets(pages).items():
        for name, out in outs.items():
            row = [name, split, str(len(idx)), *cells(out, idx)]
            lines.append("| " + " | ".join(row) + " |")
    return lines


def report_scrapinghub(pages: list[Page], outs: dict[str, list[Output]]) -> list[str]:
    def cells(out: list[Output], idx: list[int]) -> list[str]:
        s = scrapinghub_scores([out[i][0] for i in idx], [pages[i].body or "" for i in idx])
        return [_fmt(s[k]) for k in ("P", "R", "F1", "acc", "tokF1")]

    title = "### ScrapingHub article-extraction-benchmark (181 pages)"
    header = ["P", "R", "F1", "acc", "token F1"]
    return [*_split_table(title, header, pages, outs, cells), "", PUBLISHED_SH, ""]


def report_snippets(pages: list[Page], outs: dict[str, list[Output]]) -> list[str]:
    def cells(out: list[Output], idx: list[int]) -> list[str]:
        c: Counter = Counter()
        for i in idx:
            c += snippet_counts(out[i][0], pages[i].with_, pages[i].without)
        s = snippet_scores(c)
        return [str(c[k]) for k in ("tp", "fn", "fp", "tn")] + [
            _fmt(s[k]) for k in ("P", "R", "Acc", "F")
        ]

    title = "### trafilatura-eval (990 pages; with/without snippets)"
    header = ["TP", "FN", "FP", "TN", "P", "R", "Acc", "F"]
    return [*_split_table(title, header, pages, outs, cells), "", PUBLISHED_TE, ""]


def report_arabic(pages: list[Page], outs: dict[str, list[Output]]) -> list[str]:
    lines = [
        "### Arabic pages with ground truth",
        "",
        "| system | text pages | mean token F1 | Assabah snippets (TP/FN/FP/TN) "
        "| date pages | day right | day right in the page's zone | dates missing |",
        "|---|---|---|---|---|---|---|---|",
    ]
    per_page = ["", "| page | truth date | " + " | ".join(outs) + " |", "|---|---|"]
    per_page[-1] += "---|" * len(outs)
    for name, out in outs.items():
        text_idx = [i for i, p in enumerate(pages) if p.body]
        f1 = sum(token_f1(out[i][0], pages[i].body or "") for i in text_idx) / len(text_idx)
        c: Counter = Counter()
        for i, p in enumerate(pages):
            if p.with_:
                c += snippet_counts(out[i][0], p.with_, p.without)
        date_idx = [i for i, p in enumerate(pages) if p.date]
        right = sum(day_right(out[i][1], pages[i].date or "") for i in date_idx)
        local = sum(day_right(out[i][1], pages[i].date or "", True) for i in date_idx)
        missing = sum(out[i][1] is None for i in date_idx)
        snip = "/".join(str(c[k]) for k in ("tp", "fn", "fp", "tn"))
        lines.append(
            f"| {name} | {len(text_idx)} | {_fmt(f1)} | {snip} | {len(date_idx)} "
            f"| {right} | {local} | {missing} |"
        )
    for i, p in enumerate(pages):
        cells = []
        for out in outs.values():
            text, day = out[i]
            f1 = f"F1 {token_f1(text, p.body):.2f} " if p.body else ""
            cells.append(f"{f1}{day or '-'}")
        per_page.append(f"| {p.name[:40]} | {p.date or '-'} | " + " | ".join(cells) + " |")
    return [*lines, *per_page, "", PUBLISHED_AR, ""]


def scorer_check(root: Path) -> str:
    """The shingle scorer on the origin's own trafilatura output: README says F1 ~0.958."""
    base = root / "extraction" / "scrapinghub-aeb"
    truth = json.loads((base / "ground-truth.json").read_text(encoding="utf-8"))
    ref = json.loads((base / "reference-outputs" / "trafilatura.json").read_text("utf-8"))
    ref = ref.get("output", ref)
    keys = sorted(truth)
    preds = [ref[k]["articleBody"] if isinstance(ref[k], dict) else ref[k] for k in keys]
    s = scrapinghub_scores(preds, [truth[k]["articleBody"] for k in keys])
    return "scorer check, origin's reference-outputs/trafilatura.json: " + ", ".join(
        f"{k} {_fmt(s[k])}" for k in ("P", "R", "F1", "acc")
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="benchmark root (default ../shared/bench or $MARSAD_BENCH_DATA)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--sets", default="scrapinghub,trafilatura-eval,arabic")
    args = ap.parse_args(argv)
    root = data_root(args.data)
    names = [n for n in args.systems.split(",") if n]
    unknown = set(names) - set(SYSTEMS)
    if unknown:
        ap.error(f"unknown systems {sorted(unknown)}; choose from {list(SYSTEMS)}")
    sets = {
        "scrapinghub": (scrapinghub, report_scrapinghub),
        "trafilatura-eval": (trafilatura_eval, report_snippets),
        "arabic": (arabic_pages, report_arabic),
    }
    print(f"trafilatura {trafilatura.__version__}; split: sha1(file name)[0] even = tune\n")
    secs: dict[str, float] = Counter()
    total = 0
    sets = {k: v for k, v in sets.items() if k in args.sets.split(",")}
    if "scrapinghub" in sets:
        print(scorer_check(root) + "\n")
    with ProcessPoolExecutor(args.jobs) as pool:
        for _key, (loader, report) in sets.items():
            pages = list(loader(root))
            total += len(pages)
            outs: dict[str, list[Output]] = {}
            for name in names:
                results = list(pool.map(_run_one, [(name, p) for p in pages], chunksize=4))
                outs[name] = [r[0] for r in results]
                secs[name] += sum(r[1] for r in results)
            print("\n".join(report(pages, outs)), flush=True)
    print("CPU seconds per page: ", end="")
    print(", ".join(f"{n} {secs[n] / total * 1000:.0f} ms" for n in names))


if __name__ == "__main__":
    main()
