"""Benchmark datasets and scorers shared by bench/extraction.py and bench/throughput.py.

The data lives outside the repository (../shared/bench); only bench/ reads it. Set
MARSAD_BENCH_DATA (or pass --data) to point elsewhere.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "bench"


def data_root(override: str | None = None) -> Path:
    root = Path(override or os.environ.get("MARSAD_BENCH_DATA") or DEFAULT_DATA)
    if not (root / "extraction").is_dir():
        raise SystemExit(f"benchmark data not found under {root} (set MARSAD_BENCH_DATA)")
    return root


def is_tune(name: str) -> bool:
    """The fixed split: a page is in the tuning half when sha1(name)'s first byte is even."""
    return hashlib.sha1(name.encode("utf-8")).digest()[0] % 2 == 0


@dataclass(slots=True)
class Page:
    """One benchmark page: raw bytes plus whatever truth its dataset gives."""

    dataset: str
    name: str
    url: str | None
    raw: bytes
    body: str | None = None  # full article body (ScrapingHub, Arabic full-text pages)
    with_: list[str] = field(default_factory=list)  # snippets that must appear
    without: list[str] = field(default_factory=list)  # snippets that must not
    date: str | None = None  # YYYY-MM-DD
    title: str | None = None

    @property
    def tune(self) -> bool:
        return is_tune(self.name)


def scrapinghub(root: Path) -> Iterator[Page]:
    base = root / "extraction" / "scrapinghub-aeb"
    truth = json.loads((base / "ground-truth.json").read_text(encoding="utf-8"))
    for key in sorted(truth):
        raw = gzip.decompress((base / "html" / f"{key}.html.gz").read_bytes())
        yield Page("scrapinghub", key, truth[key]["url"], raw, body=truth[key]["articleBody"])


def trafilatura_eval(root: Path) -> Iterator[Page]:
    base = root / "extraction" / "trafilatura-eval"
    truth = json.loads((base / "evaldata.json").read_text(encoding="utf-8"))
    with open(base / "files.tsv", encoding="utf-8") as fh:
        gz_for = {
            row["origin_path"].rsplit("/", 1)[1]: row["gz_file"]
            for row in csv.DictReader(fh, delimiter="\t")
        }
    for key in sorted(truth):
        item = truth[key]
        raw = gzip.decompress(
            (base / "html" / gz_for.get(item["file"], item["file"] + ".gz")).read_bytes()
        )
        url = key if key.startswith("http") else None
        yield Page(
            "trafilatura-eval", item["file"], url, raw, with_=item["with"], without=item["without"]
        )


def arabic_pages(root: Path) -> Iterator[Page]:
    """Arabic pages with ground truth: dates (htmldate), texts (fundus, goose3, newspaper)."""
    base = root / "arabic-pages"
    gt = base / "ground-truth"
    dates = json.loads((gt / "htmldate_dates.json").read_text(encoding="utf-8"))
    with open(base / "manifest.csv", encoding="utf-8") as fh:
        manifest = list(csv.DictReader(fh))
    for row in manifest:
        path = base / row["file"]
        raw = path.read_bytes()
        raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
        name = path.name
        page = Page("arabic", name, row["url"], raw)
        if name in dates:
            page.date = dates[name]["date"]
        elif name.startswith("lbcgroup.tv"):
            v1 = json.loads((gt / "lbcgroup.tv__fundus_LBCGroup.json").read_text("utf-8"))["V1"]
            paras = [p for s in v1["body"]["sections"] for p in s["headline"] + s["paragraphs"]]
            page.body = "\n".join(v1["body"]["summary"] + paras)
            page.date = v1["publishing_date"][:10]
            page.title = v1["title"]
        elif name.startswith("arabic.cnn.com__goose3"):
            g = json.loads((gt / "arabic.cnn.com__goose3_test_cnn_arabic.json").read_text("utf-8"))
            page.body = g["expected"]["cleaned_text"]
        elif name.startswith("arabic.cnn.com__newspaper"):
            page.body = (gt / "arabic.cnn.com__newspaper_arabic.txt").read_text("utf-8")
        elif name.startswith("assabah"):
            g = json.loads(
                (gt / "assabah.com.tn__trafilatura_with_without.json").read_text("utf-8")
            )
            item = next(iter(g.values()))
            page.with_, page.without, page.title = item["with"], item["without"], item["title"]
        else:
            continue  # no ground truth
        yield page


# --- scorers ------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def tokens(text: str | None) -> list[str]:
    return _WORD.findall((text or "").lower())


def _shingles(toks: list[str], n: int = 4) -> Counter:
    return (
        Counter(tuple(toks[i : i + n]) for i in range(max(len(toks) - n + 1, 1)))
        if toks
        else Counter()
    )


def shingle_prf(pred: str | None, truth: str) -> tuple[float | None, float | None, bool]:
    """One page of the ScrapingHub metric: (precision, recall, exact), None where undefined."""
    p, t = tokens(pred), tokens(truth)
    sp, st = _shingles(p), _shingles(t)
    tp = sum((sp & st).values())
    fp = sum(sp.values()) - tp
    fn = sum(st.values()) - tp
    prec = tp / (tp + fp) if tp + fp else None
    rec = tp / (tp + fn) if tp + fn else None
    return prec, rec, p == t


def token_f1(pred: str | None, truth: str) -> float:
    """Plain bag-of-token F1 of one page: whitespace-separated tokens, case kept."""
    p, t = Counter((pred or "").split()), Counter(truth.split())
    tp = sum((p & t).values())
    if not tp:
        return 1.0 if not p and not t else 0.0
    prec, rec = tp / sum(p.values()), tp / sum(t.values())
    return 2 * prec * rec / (prec + rec)


def scrapinghub_scores(preds: list[str | None], truths: list[str]) -> dict[str, float]:
    ps, rs, exact, f1s = [], [], 0, []
    for pred, truth in zip(preds, truths, strict=True):
        p, r, e = shingle_prf(pred, truth)
        if p is not None:
            ps.append(p)
        if r is not None:
            rs.append(r)
        exact += e
        f1s.append(token_f1(pred, truth))
    prec = sum(ps) / len(ps) if ps else 0.0
    rec = sum(rs) / len(rs) if rs else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    n = len(truths)
    return {"P": prec, "R": rec, "F1": f1, "acc": exact / n, "tokF1": sum(f1s) / n, "n": n}


_WS = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _WS.sub(" ", text).strip()


def snippet_counts(pred: str | None, with_: list[str], without: list[str]) -> Counter:
    """TP/FN/FP/TN for one page (trafilatura-eval's whitespace-normalised substring match)."""
    out = _squash(pred or "")
    c: Counter = Counter()
    for s in with_:
        c["tp" if _squash(s) in out else "fn"] += 1
    if pred is None:  # a crash or no output is a full miss, as in the origin
        c["tn"] += len(without)
        return c
    for s in without:
        c["fp" if _squash(s) in out else "tn"] += 1
    return c


def snippet_scores(counts: Counter) -> dict[str, float]:
    """Corpus precision, recall, accuracy and F from summed snippet counts."""
    tp, fn, fp, tn = counts["tp"], counts["fn"], counts["fp"], counts["tn"]
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    acc = (tp + tn) / (tp + tn + fp + fn) if tp + tn + fp + fn else 0.0
    return {"P": prec, "R": rec, "Acc": acc, "F": f}
