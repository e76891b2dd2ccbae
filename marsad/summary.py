"""Per-source run counters, shown as a Prefect artifact and printed by the CLI."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from marsad.record import Failure

COLUMNS = ("discovered", "skipped", "fetched", "stored", "duplicates", "failed")


@dataclass
class RunSummary:
    run_id: str
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    reasons: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, column: str, per_source: Mapping[str, int] | Iterable[str]) -> None:
        items = (
            per_source.items() if isinstance(per_source, Mapping) else Counter(per_source).items()
        )
        for src, n in items:
            self.counts[src][column] += n

    def add_failures(self, failures: Iterable[Failure]) -> None:
        for f in failures:
            self.counts[f.source]["failed"] += 1
            self.reasons[f.source][f"{f.stage}: {f.error}"] += 1

    def total(self, column: str) -> int:
        return sum(c[column] for c in self.counts.values())

    def rows(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for src in sorted(self.counts):
            row: dict[str, object] = {"source": src}
            row.update({col: self.counts[src][col] for col in COLUMNS})
            row["failure reasons"] = "; ".join(
                f"{r} ×{n}" for r, n in self.reasons[src].most_common(5)
            )
            rows.append(row)
        return rows

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            **{c: self.total(c) for c in COLUMNS},
            "sources": self.rows(),
        }
