"""Per-source run counters and entity tallies: what a run's artifacts and the CLI print."""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from marsad.budget import is_deferred
from marsad.record import Article, Failure

COLUMNS = (
    "discovered",
    "not_modified",
    "skipped",
    "fetched",
    "stored",
    "duplicates",
    "failed",
    "deferred",
)
MAX_HITS_SHOWN = 50
RLI, PDI = "\u2067", "\u2069"  # right-to-left isolate ... pop directional isolate


@dataclass
class RunSummary:
    run_id: str
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    reasons: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # (entity_id, or the normalised form when unlinked; label) -> mentions, and their names
    entities: Counter[tuple[str, str]] = field(default_factory=Counter)
    names: dict[tuple[str, str], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    hits: list[dict[str, str]] = field(default_factory=list)
    # records passed over by reason (`marsad ingest`: not HTML, other language, ...)
    skips: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # per phase

    def add(self, column: str, per_source: Mapping[str, int] | Iterable[str]) -> None:
        items = (
            per_source.items() if isinstance(per_source, Mapping) else Counter(per_source).items()
        )
        for src, n in items:
            self.counts[src][column] += n

    def add_skips(self, reasons: Mapping[str, int]) -> None:
        """Records skipped by reason; a reason counted zero times still shows, as 0."""
        for reason, n in reasons.items():
            self.skips[reason] += n

    def add_seconds(self, phase: str, seconds: float) -> None:
        self.seconds[phase] += seconds

    def skip_reasons(self) -> str:
        """The reasons with their counts, most frequent first: the artifact's totals row."""
        return "; ".join(f"{r} ×{n}" for r, n in self.skips.most_common() if n)

    def add_failures(self, failures: Iterable[Failure]) -> None:
        """Deferred URLs (out of time, stopped) are counted apart: they are not broken."""
        for f in failures:
            self.counts[f.source]["deferred" if is_deferred(f.error) else "failed"] += 1
            self.reasons[f.source][f"{f.stage}: {f.error}"] += 1

    def outcome(self) -> str:
        """The flow run's state message."""
        n = {c: self.total(c) for c in ("stored", "failed", "deferred")}
        return f"stored {n['stored']}, failed {n['failed']}, deferred {n['deferred']}"

    def add_entities(self, articles: Iterable[Article]) -> list[dict[str, str]]:
        """Tally mentions by entity (its id, else its normalised form and label); returns this
        batch's watchlist hits, one per entity and article."""
        new_hits: list[dict[str, str]] = []
        for art in articles:
            linked: set[str] = set()
            for e in art.entities:
                key = (e.entity_id or e.norm, e.label)
                self.entities[key] += 1
                self.names[key][e.name or e.text] += 1
                if e.entity_id and e.entity_id not in linked:
                    linked.add(e.entity_id)
                    new_hits.append(
                        {
                            "entity_id": e.entity_id,
                            "name": e.name or e.text,
                            "name_en": e.name_en or "",
                            "mention": e.text,
                            "label": e.label,
                            "source": art.source,
                            "title": art.title or "",
                            "url": art.canonical_url or art.url,
                            "article_id": art.article_id or "",
                        }
                    )
        self.hits.extend(new_hits)
        return new_hits

    def name(self, key: tuple[str, str]) -> str:
        """The display name most mentions of an entity carry (never its folded form)."""
        return self.names[key].most_common(1)[0][0]

    def markdown(self, top: int = 20) -> str:
        """Top entities and watchlist hits (one row per entity), for the run's artifact."""
        lines = [f"# marsad run {self.run_id}", "", f"## Top {top} entities", ""]
        if self.entities:
            lines += ["| entity | label | mentions |", "|---|---|---:|"]
            for key, n in self.entities.most_common(top):
                lines.append(f"| {_cell(self.name(key))} | {key[1]} | {n} |")
        else:
            lines.append("No entities in this run.")
        grouped = self.hits_by_entity()
        lines += ["", f"## Watchlist hits ({len(grouped)})", ""]
        if grouped:
            lines += [
                f"{len(grouped)} watchlist entities, {len(self.hits)} (entity, article) hits.",
                "",
                "| entity | id | mentions | articles | latest article |",
                "|---|---|---:|---:|---|",
            ]
            for g in grouped[:MAX_HITS_SHOWN]:
                lines.append(
                    f"| {_cell(str(g['name']))} | {g['entity_id']} | {g['mentions']} "
                    f"| {g['articles']} | {_title_link(str(g['title']), str(g['url']))} |"
                )
            if len(grouped) > MAX_HITS_SHOWN:
                lines.append(f"\n… and {len(grouped) - MAX_HITS_SHOWN} more entities.")
        else:
            lines.append("No watchlist hits in this run.")
        return "\n".join(lines) + "\n"

    def hits_by_entity(self) -> list[dict[str, object]]:
        """One row per watchlist entity hit in the run: its name, id, mentions and articles
        (and the last article it was seen in), most mentioned first."""
        latest: dict[str, dict[str, str]] = {}
        articles: dict[str, set[str]] = defaultdict(set)
        for h in self.hits:
            latest[h["entity_id"]] = h
            articles[h["entity_id"]].add(h["article_id"] or h["url"])
        counts = {eid: self.entities[(eid, h["label"])] for eid, h in latest.items()}
        order = sorted(latest, key=lambda eid: (-counts[eid], latest[eid]["name"], eid))
        return [
            {**latest[eid], "mentions": counts[eid], "articles": len(articles[eid])}
            for eid in order
        ]

    def total(self, column: str) -> int:
        return sum(c[column] for c in self.counts.values())

    def rows(self, artifact: bool = False) -> list[dict[str, object]]:
        """One row per source; for the artifact, a last row of totals and reasons that wrap
        (break opportunities in long URLs; not for the terminal, where they would be copied)."""
        rows: list[dict[str, object]] = []
        for src in sorted(self.counts):
            row: dict[str, object] = {"source": src}
            row.update({col: self.counts[src][col] for col in COLUMNS})
            row["failure reasons"] = _reasons(self.reasons[src], wrap=artifact)
            if self.skips:
                row["skip reasons"] = ""  # counted per run, in the totals row
            rows.append(row)
        if artifact and (rows or self.skips):  # an ingest may skip every record it read
            total: dict[str, object] = {"source": "total"}
            total.update({col: self.total(col) for col in COLUMNS})
            total["failure reasons"] = _reasons(sum(self.reasons.values(), Counter()), wrap=True)
            if self.skips:
                total["skip reasons"] = self.skip_reasons()
            rows.append(total)
        return rows

    def failures_markdown(self) -> str:
        """Every failure reason with its count, per source: long reasons wrap here."""
        lines = [f"# marsad run {self.run_id}: failures", ""]
        for src in sorted(s for s in self.reasons if self.reasons[s]):
            lines += [f"## {src}", ""]
            lines += [f"- ×{n} {_md(r)}" for r, n in self.reasons[src].most_common()]
            lines.append("")
        if len(lines) == 2:
            lines.append("No failures in this run.")
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            **{c: self.total(c) for c in COLUMNS},
            "sources": self.rows(),
            "watchlist_hits": len(self.hits),
            **({"skip_reasons": dict(self.skips)} if self.skips else {}),
            **(
                {"seconds": {k: round(v, 3) for k, v in self.seconds.items()}}
                if self.seconds
                else {}
            ),
        }


def _break_long(word: str, width: int = 40) -> str:
    """A URL or token longer than `width` gets break opportunities (zero-width spaces) so
    the cell or line that shows it wraps instead of running off the screen."""
    if len(word) <= width:
        return word
    return "\u200b".join(word[i : i + width] for i in range(0, len(word), width))


def _reasons(counts: Counter[str], top: int = 5, width: int = 160, wrap: bool = False) -> str:
    parts = []
    for reason, n in counts.most_common(top):
        if wrap:
            short = reason if len(reason) <= width else reason[: width - 1] + "…"
            reason = " ".join(_break_long(w) for w in short.split(" "))
        parts.append(f"{reason} ×{n}")
    return "; ".join(parts)


def _cell(text: str) -> str:
    """Text in a markdown table cell: a `|` would end the cell, a newline the row."""
    return " ".join(text.replace("|", "/").split())


def is_rtl(text: str) -> bool:
    """Whether `text` holds a right-to-left letter (Arabic, Hebrew, Thaana, ...)."""
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


def _title_link(title: str, url: str) -> str:
    """A table cell linking an article by its title (its URL when it has none). An RTL
    title is laid out right to left: a `<div dir="rtl">` for Prefect's default UI, whose
    markdown keeps sanitised raw HTML (so the cell wraps and clips at the title's end, not
    its start), and an RLI...PDI isolate inside the link for renderers that drop the HTML
    (the V1 UI, the raw text): punctuation and numbers stay in place (docs/decisions.md)."""
    text = _cell(title)
    for ch, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(ch, entity)  # the title is data, never markup
    for ch in "\\[]":
        text = text.replace(ch, "\\" + ch)  # a backslash or bracket would end the link text
    if not is_rtl(text):
        return f"[{text or url}]({url})"
    return f'<div dir="rtl">[{RLI}{text}{PDI}]({url})</div>'


def _md(text: str) -> str:
    """Plain text in markdown: no accidental tables, links or emphasis."""
    for ch in "\\|*_`[]<>":
        text = text.replace(ch, "\\" + ch)
    return " ".join(_break_long(w) for w in text.split(" "))
