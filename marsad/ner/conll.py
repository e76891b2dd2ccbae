"""CoNLL reading and entity-level scoring (conlleval semantics, no dependencies).

Written here rather than imported so that `marsad ner evaluate` works in a bare install and
so that the scoring rules (stray I- opens an entity, type change closes one) are explicit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Sentence = list[tuple[str, str | None]]


def read_conll(path: str | Path) -> list[Sentence]:
    """Read `token [label]` lines; blank lines separate sentences. Label is None if absent."""
    sentences: list[Sentence] = []
    current: Sentence = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if not parts:
                if current:
                    sentences.append(current)
                    current = []
                continue
            label = parts[-1] if len(parts) > 1 else None
            current.append((parts[0], label))
    if current:
        sentences.append(current)
    return sentences


def read_blocks(path: str | Path) -> list[list[str]]:
    """Read a CoNLL file as raw line blocks, keeping every blank line (for `tag`)."""
    blocks: list[list[str]] = [[]]
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                blocks[-1].append(line.split()[0])
            else:
                blocks.append([])
    return blocks


def spans(labels: Sequence[str]) -> set[tuple[int, int, str]]:
    """Entity spans (start, end exclusive, type) with conlleval rules.

    An entity starts at B-X, at I-X after O, or at I-X after a different type; it ends before
    O, B-, or a tag of a different type.
    """
    found: set[tuple[int, int, str]] = set()
    if labels.count("O") == len(labels):  # most sentences of an article: no call per label
        return found
    start = -1
    etype = ""
    for i, label in enumerate([*list(labels), "O"]):
        prefix, _, ltype = label.partition("-")
        inside = prefix == "I" and ltype == etype and start >= 0
        if start >= 0 and not inside:
            found.add((start, i, etype))
            start, etype = -1, ""
        if prefix in ("B", "I") and not inside:
            start, etype = i, ltype
    return found


@dataclass
class Counts:
    """True positives, predicted and gold entity counts for one type."""

    tp: int = 0
    pred: int = 0
    gold: int = 0

    @property
    def precision(self) -> float:
        return self.tp / self.pred if self.pred else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Score:
    """Per-type and micro-averaged counts."""

    by_type: dict[str, Counts] = field(default_factory=dict)
    micro: Counts = field(default_factory=Counts)

    def table(self) -> str:
        """Human-readable table: one line per type, then the micro average."""
        rows = [f"{'type':<6} {'P':>6} {'R':>6} {'F1':>6} {'gold':>6} {'pred':>6}"]
        items = [*sorted(self.by_type.items()), ("micro", self.micro)]
        for name, c in items:
            rows.append(
                f"{name:<6} {100 * c.precision:6.2f} {100 * c.recall:6.2f} "
                f"{100 * c.f1:6.2f} {c.gold:6d} {c.pred:6d}"
            )
        return "\n".join(rows)


def score(gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]]) -> Score:
    """Entity-level exact-match P/R/F1 over aligned label sequences."""
    result = Score()
    for g_seq, p_seq in zip(gold, pred, strict=True):
        if len(g_seq) != len(p_seq):
            raise ValueError("gold and predicted sentences differ in length")
        g_spans, p_spans = spans(g_seq), spans(p_seq)
        for span_set, attr in ((g_spans, "gold"), (p_spans, "pred"), (g_spans & p_spans, "tp")):
            for _, _, etype in span_set:
                counts = result.by_type.setdefault(etype, Counts())
                setattr(counts, attr, getattr(counts, attr) + 1)
                setattr(result.micro, attr, getattr(result.micro, attr) + 1)
    return result
