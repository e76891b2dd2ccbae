"""`marsad search`: the stored articles ranked by BM25 against a query, in marsad's own spelling.

A document is an article's title and `text_norm`. Query and document meet after the
normalisation of `text_norm` (aggressive level: diacritics, tatweel, alef and hamza forms,
ligatures do not matter), token by token with marsad's tokenizer; a word may carry proclitics
(و ف ب ل ك, لل: وبغداد and للعراق match بغداد and العراق). Every query word must occur; BM25
ranks. DuckDB's full-text extension cannot be installed offline for the DuckDB in use, so the
formula is here (docs/decisions.md).

The scan streams one file's record batches at a time, reads only the columns it needs,
prunes partitions and row groups by --since and --source, and keeps only the matching
articles' term counts; the texts and snippets of the top hits alone are read afterwards.
Matching words (and finding them again for the snippet) is `marsad.search_terms`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from marsad.dataset import Location, list_partitions, resolve
from marsad.search_terms import (
    Query,
    SearchError,
    fold,
    locate,
    parse_query,
    parse_since,
    term_counts,
)

K1 = 1.2  # BM25's usual constants (Robertson & Zaragoza; Lucene's defaults)
B = 0.75
SNIPPET_CONTEXT = 70  # characters of context on each side of the match
_SCAN_COLUMNS = ["article_id", "title", "text_norm"]
_SHOW_COLUMNS = ["article_id", "title", "source", "published_at", "fetched_at", "text"]
_SHOW_COLUMNS += ["canonical_url", "url"]
__all__ = ["Hit", "Scan", "SearchError", "main", "parse_query", "parse_since", "search"]


@dataclass(slots=True)
class Scan:
    """What one pass over the filtered articles learns: BM25's corpus statistics and, for each
    article holding every query word, its length and term counts (in `terms` order) and file."""

    query: Query
    docs: int = 0
    words: int = 0
    df: Counter[str] = field(default_factory=Counter)
    matches: list[tuple[str, int, int, tuple[int, ...]]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    terms: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.terms = tuple(sorted(self.query.terms))

    def add(self, article_id: str, title: str, text_norm: str, file_no: int) -> None:
        norm = fold(title) + "\n" + fold(text_norm)
        chunks = norm.split()
        self.docs += 1
        self.words += len(chunks)
        if not any(n in norm for n in self.query.needles):
            return
        counts = term_counts(norm, self.query)
        self.df.update(counts.keys())
        if len(counts) == len(self.query.terms):
            tfs = tuple(counts[t] for t in self.terms)
            self.matches.append((article_id, file_no, len(chunks), tfs))

    def ranked(self) -> list[tuple[float, str, str]]:
        """(score, article_id, file) of every match, best first."""
        if not self.matches:
            return []
        avg = self.words / self.docs or 1.0
        n = self.docs
        idf = [math.log(1 + (n - self.df[t] + 0.5) / (self.df[t] + 0.5)) for t in self.terms]
        out = []
        for aid, file_no, length, tfs in self.matches:
            norm_len = K1 * (1 - B + B * length / avg)
            score = sum(w * tf * (K1 + 1) / (tf + norm_len) for w, tf in zip(idf, tfs, strict=True))
            out.append((score, aid, self.files[file_no]))
        out.sort(key=lambda r: (-r[0], r[1]))
        return out


def _filter(since: datetime | None, source: str | None) -> pc.Expression | None:
    expr: pc.Expression | None = None
    if since is not None:
        at = pa.scalar(since, pa.timestamp("us", tz="UTC"))
        pub = pc.field("published_at")
        expr = (pub >= at) | (pub.is_null() & (pc.field("fetched_at") >= at))
    if source is not None:
        by_source = pc.field("source") == source
        expr = by_source if expr is None else expr & by_source
    return expr


def _files(loc: Location, since: datetime | None) -> Iterator[str]:
    """The articles files of the partitions that can hold articles from `since` on (a
    partition is the day of publication, else of fetching; a day of slack)."""
    first = (since - timedelta(days=1)).date() if since is not None else None
    for part, infos in list_partitions(loc, "articles").items():
        if first is None or date.fromisoformat(part.removeprefix("date=")) >= first:
            yield from (info.path for info in infos)


def scan(
    loc: Location, query: Query, since: datetime | None = None, source: str | None = None
) -> Scan:
    found = Scan(query)
    expr = _filter(since, source)
    for path in _files(loc, since):
        found.files.append(path)
        dset = pads.dataset(path, filesystem=loc.fs, format="parquet")
        for batch in dset.to_batches(columns=_SCAN_COLUMNS, filter=expr, batch_size=2048):
            cols = [batch.column(c).to_pylist() for c in _SCAN_COLUMNS]
            for aid, title, text in zip(*cols, strict=True):
                if text or title:
                    found.add(aid, title or "", text or "", len(found.files) - 1)
    return found


def snippet(text: str, where: tuple[int, int] | None, context: int = SNIPPET_CONTEXT) -> str:
    """The match with about `context` characters each side, cut at spaces, on one line."""
    start, end = where or (0, 0)
    left = max(0, start - context)
    right = min(len(text), end + context)
    if left > 0:
        space = text.find(" ", left, start)
        left = space + 1 if space >= 0 else left
    if right < len(text):
        space = text.rfind(" ", end, right)
        right = space if space >= 0 else right
    body = " ".join(text[left:right].split())
    return ("…" if left > 0 else "") + body + ("…" if right < len(text) else "")


@dataclass(frozen=True, slots=True)
class Hit:
    rank: int
    score: float
    article_id: str
    title: str
    source: str
    published_at: datetime | None  # null when the page gave no date
    day: str  # YYYY-MM-DD of publication, else of fetching (the article's partition)
    url: str
    snippet: str
    match: str  # the matched words as the text writes them
    start: int | None  # their offsets into `text`
    end: int | None

    def as_json(self) -> dict[str, Any]:
        row = dataclasses.asdict(self)
        row["score"] = round(self.score, 4)
        row["published_at"] = self.published_at.isoformat() if self.published_at else None
        return row


def _details(loc: Location, top: list[tuple[float, str, str]]) -> dict[str, dict[str, Any]]:
    """Title, text and the rest of the top hits, read from their files only."""
    by_file: dict[str, list[str]] = defaultdict(list)
    for _score, aid, path in top:
        by_file[path].append(aid)
    rows: dict[str, dict[str, Any]] = {}
    for path, ids in by_file.items():
        dset = pads.dataset(path, filesystem=loc.fs, format="parquet")
        wanted = pc.field("article_id").isin(pa.array(ids, pa.string()))
        for row in dset.to_table(columns=_SHOW_COLUMNS, filter=wanted).to_pylist():
            rows[row["article_id"]] = row
    return rows


def search(
    out: str | Location,
    query: str,
    since: datetime | None = None,
    source: str | None = None,
    limit: int = 10,
) -> list[Hit]:
    """The `limit` best articles for `query`, best first (an empty list when none match)."""
    q = parse_query(query)
    loc = resolve(out)
    top = scan(loc, q, since, source).ranked()[:limit]
    rows = _details(loc, top)
    hits = []
    for rank, (score, aid, _path) in enumerate(top, 1):
        row = rows[aid]
        text = row["text"] or ""
        where = locate(text, q)
        when = row["published_at"] or row["fetched_at"]
        hits.append(
            Hit(
                rank,
                score,
                aid,
                row["title"] or "",
                row["source"],
                row["published_at"],
                when.date().isoformat(),
                row["canonical_url"] or row["url"],
                snippet(text, where),
                text[where[0] : where[1]] if where else "",
                where[0] if where else None,
                where[1] if where else None,
            )
        )
    return hits


def width(text: str) -> int:
    """Terminal columns: combining marks (Arabic diacritics) and format characters take
    none, wide East Asian characters two."""
    return sum(
        0
        if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf")
        else 2
        if unicodedata.east_asian_width(c) in "WF"
        else 1
        for c in text
    )


def clip(text: str, cols: int) -> str:
    """`text` cut to `cols` terminal columns, with an ellipsis when cut."""
    if width(text) <= cols:
        return text
    out, used = [], 0
    for c in text:
        w = width(c)
        if used + w > cols - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def table(hits: Sequence[Hit], title_cols: int = 48) -> str:
    """One line per hit: rank, date, source, title, snippet (the snippet last, uncut)."""
    head = ("#", "date", "source", "title", "snippet")
    rows = [
        (str(h.rank), h.day, h.source, clip(" ".join(h.title.split()), title_cols), h.snippet)
        for h in hits
    ]
    cols = [max(width(r[i]) for r in [head, *rows]) for i in range(4)]
    lines = []
    for r in [head, *rows]:
        cells = [c + " " * (cols[i] - width(c)) for i, c in enumerate(r[:4])]
        lines.append("  ".join([*cells, r[4]]).rstrip())
    return "\n".join(lines)


def main(
    out: str,
    query: str,
    since: str | None = None,
    source: str | None = None,
    limit: int = 10,
    as_json: bool = False,
) -> int:
    """`marsad search`: exit 0 with results, 1 with none, 2 on a bad --since or query."""
    try:
        start = parse_since(since) if since is not None else None
        hits = search(out, query, start, source, limit)
    except SearchError as exc:
        print(f"marsad search: error: {exc}", file=sys.stderr)
        return 2
    if not hits:
        print("no articles match", file=sys.stderr)
        return 1
    if as_json:
        for h in hits:
            print(json.dumps(h.as_json(), ensure_ascii=False))
    else:
        print(table(hits))
    return 0
