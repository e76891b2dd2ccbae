"""Story matching on the labelled SaudiNewsNet set: B-cubed precision, recall and F1 of
marsad.story_match against two baselines, and (--cost) its cost on a synthetic stream.

    python bench/stories.py [--corpus DIR] [--cache FILE] [--errors] [--first-pass]
    python bench/stories.py --cost [--articles 1000 100000]

Labels: bench/story_labels.json (URLs and story labels only; method in docs/stories.md).
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from story_data import DEFAULT_CORPUS, LABELS, Item, items
from story_score import bcubed, best_title_threshold, dup_only, run_days


def _load(corpus: Path, cache: Path | None, first_pass: bool) -> list[Item]:
    """The pipeline stages (NER above all) take a minute; --cache keeps their output."""
    if cache is not None and cache.exists():
        got: list[Item] = pickle.loads(cache.read_bytes())
        return got
    found = items(corpus, LABELS, first_pass)
    if cache is not None:
        cache.write_bytes(pickle.dumps(found))
    return found


def _errors(pred: dict[str, str], found: list[Item]) -> None:
    """Predicted stories that mix labels, and labelled stories split across predictions."""
    title = {it.doc.article_id: (it.doc.source, (it.doc.title or "")[:70]) for it in found}
    label = {it.doc.article_id: it.story for it in found}
    groups: dict[str, list[str]] = defaultdict(list)
    for aid, sid in pred.items():
        groups[sid].append(aid)
    for sid, members in sorted(groups.items()):
        if len({label[a] for a in members}) > 1:
            print(f"mixed {sid[:8]}:")
            for a in members:
                print(f"   {label[a][:28]:28} {title[a][0]:12} {title[a][1]}")
    by_label: dict[str, set[str]] = defaultdict(set)
    for aid, lab in label.items():
        by_label[lab].add(pred[aid])
    for lab, sids in sorted(by_label.items()):
        if len(sids) > 1:
            print(f"split {lab}: {len(sids)} stories")


def quality(corpus: Path, cache: Path | None, errors: bool, first_pass: bool) -> None:
    found = _load(corpus, cache, first_pass)
    truth = {it.doc.article_id: it.story for it in found}
    labelled = {s for s in truth.values() if not s.startswith("single:")}
    singles = sum(1 for s in truth.values() if s.startswith("single:"))
    print(f"articles {len(found)}, labelled stories {len(labelled)}, singles {singles}")
    print(f"{'method':34} {'P':>6} {'R':>6} {'F1':>6}")
    pred = run_days(found)
    for name, prf in (
        ("story_match (day-by-day runs)", bcubed(pred, truth)),
        ("baseline: dup_group alone", bcubed(dup_only(found), truth)),
    ):
        print(f"{name:34} {prf[0]:6.3f} {prf[1]:6.3f} {prf[2]:6.3f}")
    t, prf = best_title_threshold(found)
    name = f"baseline: title TF-IDF >= {t:.2f}"
    print(f"{name:34} {prf[0]:6.3f} {prf[1]:6.3f} {prf[2]:6.3f}  (best threshold on this set)")
    if errors:
        _errors(pred, found)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--cache", type=Path, help="pickle of the staged articles (outside the repo)")
    ap.add_argument("--errors", action="store_true", help="list mixed and split stories")
    ap.add_argument(
        "--first-pass",
        action="store_true",
        help="the set of the first, title-based proposals only (use another --cache)",
    )
    ap.add_argument("--cost", action="store_true", help="ms/article on a synthetic stream")
    ap.add_argument("--articles", type=int, nargs="+", default=[1000, 100_000])
    args = ap.parse_args()
    if args.cost:
        from story_cost import cost

        for n in args.articles:
            cost(n)
    else:
        quality(args.corpus, args.cache, args.errors, args.first_pass)


if __name__ == "__main__":
    main()
