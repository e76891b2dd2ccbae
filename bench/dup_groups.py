"""Precision and recall of `dup_group` on a labelled set built from the demo pages.

bench/dup_labels.json holds six demo stories with three copies each (a wire copy with an
agency prefix and footer, a republication with a new title, a paragraph dropped and a
sentence added, a copy with spelling noise), nine negatives written for the set (same
topics and names, or the same rubric title, different stories) and two follow-up stories that
reuse one paragraph of a demo page verbatim. Pairs are counted over all
items: precision = pairs grouped together that are one story / pairs grouped together.

    python bench/dup_groups.py [--threshold 0.5]
"""

from __future__ import annotations

import argparse
import json
import random
from itertools import combinations
from pathlib import Path

from marsad import dedup
from marsad.extract import extract_html

ROOT = Path(__file__).resolve().parents[1]
LABELS = Path(__file__).resolve().parent / "dup_labels.json"
DEMO = ROOT / "seeds" / "demo" / "articles"


def _noise(text: str) -> str:
    """Spelling variation a republisher introduces: hamza dropped, tatweel, teh marbuta."""
    words = text.replace("أ", "ا").replace("إ", "ا").split(" ")
    out = [w[:-1] + "ـ" + w[-1] if i % 7 == 3 and len(w) > 3 else w for i, w in enumerate(words)]
    return " ".join(out).replace("ة ", "ه ")


def _edit(text: str, edits: list[str], phrases: dict[str, str]) -> str:
    paras = [p for p in text.split("\n") if p.strip()]
    if "drop_last_paragraph" in edits and len(paras) > 1:
        paras = paras[:-1]
    if "add_sentence" in edits:
        paras.append(phrases["add_sentence"])
    if "agency_prefix" in edits:
        paras[0] = phrases["agency_prefix"] + paras[0]
    if "footer" in edits:
        paras.append(phrases["footer"])
    text = "\n".join(paras)
    return _noise(text) if "spelling_noise" in edits else text


def labelled_items() -> list[tuple[str, str, str | None, str]]:
    """(item id, story, title, text) for every item of the set."""
    data = json.loads(LABELS.read_text(encoding="utf-8"))
    items = []
    for story in data["stories"]:
        page = extract_html((DEMO / story["page"]).read_text(encoding="utf-8"), None)
        items.append((f"{story['story']}/demo", story["story"], page.title, page.text))
        for copy in story["copies"]:
            text = _edit(page.text, copy["edits"], data["edits"])
            iid = f"{story['story']}/{copy['source']}"
            items.append((iid, story["story"], copy["title"], text))
    for i, neg in enumerate(data["negatives"]):
        items.append((f"negative-{i}/{neg['source']}", f"negative-{i}", neg["title"], neg["text"]))
    for i, fol in enumerate(data["followups"]):
        page = extract_html((DEMO / fol["page"]).read_text(encoding="utf-8"), None)
        reused = [p for p in page.text.split("\n") if p.strip()][fol["reuse_paragraph"]]
        text = reused + "\n" + fol["text"]
        items.append((f"followup-{i}/{fol['source']}", f"followup-{i}", fol["title"], text))
    return items


def score(threshold: float, seed: int = 0) -> dict[str, object]:
    items = labelled_items()
    random.Random(seed).shuffle(items)  # arrival order should not matter much
    index = dedup.DupIndex(threshold=threshold)
    group = {iid: index.assign(iid, title, text) for iid, _story, title, text in items}
    story = {iid: s for iid, s, _t, _x in items}
    predicted = {(a, b) for a, b in combinations(sorted(group), 2) if group[a] == group[b]}
    truth = {(a, b) for a, b in combinations(sorted(story), 2) if story[a] == story[b]}
    hits = predicted & truth
    return {
        "items": len(items),
        "true_pairs": len(truth),
        "predicted_pairs": len(predicted),
        "precision": len(hits) / len(predicted) if predicted else 1.0,
        "recall": len(hits) / len(truth) if truth else 1.0,
        "false_pairs": sorted(predicted - truth),
        "missed_pairs": sorted(truth - predicted),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=float, default=dedup.THRESHOLD)
    args = ap.parse_args()
    precisions, recalls = [], []
    for seed in range(5):
        r = score(args.threshold, seed)
        precisions.append(r["precision"])
        recalls.append(r["recall"])
    print(f"items {r['items']}, true pairs {r['true_pairs']}, threshold {args.threshold}")
    print(f"pairwise precision {min(precisions):.3f} (min over 5 arrival orders)")
    print(f"pairwise recall    {min(recalls):.3f} (min over 5 arrival orders)")
    for a, b in r["false_pairs"]:
        print(f"  false: {a} ~ {b}")
    for a, b in r["missed_pairs"]:
        print(f"  missed: {a} ~ {b}")


if __name__ == "__main__":
    main()
