"""Stories on disk: the writer's StoryIndex rebuilt from stored rows, and a story's row.

The matcher (marsad.story_match) decides which story an article joins; this module feeds it
the stored articles of the days around a batch (only the columns it needs, only files it has
not read yet, so a long-lived writer reads each file once and a restarted one reads the window,
not the dataset's history) and keeps each story's row: counts, sources and top entities
updated incrementally, so a batch rewrites only the rows it touches. Of the stories files it
holds a small entry per file and the rows only of stories that can meet the window of the days
being written (footer statistics skip the rest), so its memory too follows the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from marsad.dataset import Location, list_partitions, read_file
from marsad.record import Article
from marsad.story_match import StoryDoc, StoryIndex

WINDOW = timedelta(hours=72)  # issue 15: stories whose latest article is this close stay open
TOP_ENTITIES = 10
_ARTICLE_COLUMNS = ["article_id", "source", "title", "text_norm", "entities", "dup_group"]
_ARTICLE_COLUMNS += ["published_at", "fetched_at", "story_id"]


def when_of(published_at: datetime | None, fetched_at: datetime) -> datetime:
    return published_at or fetched_at


def day_part(day: date) -> str:
    return f"date={day.isoformat()}"


def entity_key(label: str, norm: str, entity_id: str | None) -> str:
    """As the report counts entities: the watchlist id when linked, else label and norm."""
    return entity_id if entity_id else f"{label}:{norm}"


def _keys(entities: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(sorted({entity_key(e["label"], e["norm"], e["entity_id"]) for e in entities}))


def article_doc(art: Article) -> StoryDoc:
    ents = [{"label": e.label, "norm": e.norm, "entity_id": e.entity_id} for e in art.entities]
    return StoryDoc(
        art.article_id or "",
        when_of(art.published_at, art.fetched_at),
        art.source,
        art.title,
        art.text_norm,
        _keys(ents),
        art.dup_group,
    )


def row_doc(row: Mapping[str, Any]) -> StoryDoc:
    return StoryDoc(
        row["article_id"],
        when_of(row.get("published_at"), row["fetched_at"]),
        row["source"],
        row.get("title"),
        row.get("text_norm"),
        _keys(row.get("entities") or []),
        row.get("dup_group"),
    )


@dataclass(slots=True)
class StoryRow:
    """One row of `stories/`: sums that a batch's new articles and merges update in place."""

    story_id: str
    part: str  # the partition holding the row: its first article's day, for good
    title: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    n_articles: int = 0
    sources: set[str] = field(default_factory=set)
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> struct
    merged_into: str | None = None

    @classmethod
    def stored(cls, row: Mapping[str, Any], part: str) -> StoryRow:
        ents = {e["key"]: dict(e) for e in row.get("entities") or []}
        return cls(
            row["story_id"],
            part,
            row.get("title"),
            row["first_seen"],
            row["last_seen"],
            row["n_articles"],
            set(row.get("sources") or []),
            ents,
            row.get("merged_into"),
        )

    def add(self, art: Article) -> None:
        when = when_of(art.published_at, art.fetched_at)
        if self.first_seen is None or when < self.first_seen:
            self.first_seen = when
            if art.title:
                self.title = art.title  # the earliest headline speaks for the story
        if self.last_seen is None or when > self.last_seen:
            self.last_seen = when
        if not self.title and art.title:
            self.title = art.title
        self.n_articles += 1
        self.sources.add(art.source)
        seen: set[str] = set()
        for e in art.entities:
            key = entity_key(e.label, e.norm, e.entity_id)
            if key not in seen:
                seen.add(key)
                shown = {"name": e.name or e.text, "label": e.label, "entity_id": e.entity_id}
                self._count({"key": key, **shown}, 1)

    def _count(self, struct: Mapping[str, Any], n: int) -> None:
        got = self.entities.get(struct["key"])
        if got is None:
            got = self.entities[struct["key"]] = {**struct, "count": 0}
        got["count"] += n

    def absorb(self, other: StoryRow) -> None:
        """`other` merged into this story: its articles count here from now on."""
        for when in (other.first_seen, other.last_seen):
            if when is None:
                continue
            if self.first_seen is None or when < self.first_seen:
                self.first_seen = when
                self.title = other.title or self.title
            if self.last_seen is None or when > self.last_seen:
                self.last_seen = when
        self.n_articles += other.n_articles
        self.sources |= other.sources
        for struct in other.entities.values():
            self._count(struct, struct["count"])

    def as_row(self, now: datetime) -> dict[str, Any]:
        top = sorted(self.entities.values(), key=lambda s: (-s["count"], s["key"]))
        return {
            "story_id": self.story_id,
            "title": self.title,
            "first_seen": self.first_seen or now,
            "last_seen": self.last_seen or now,
            "n_articles": self.n_articles,
            "n_sources": len(self.sources),
            "sources": sorted(self.sources),
            "entities": top[:TOP_ENTITIES],
            "merged_into": self.merged_into,
            "updated_at": now,
        }


def _day_of(key: str) -> date:
    return date.fromisoformat(key[5:15])


Span = tuple[datetime, datetime]  # [start, end), UTC
Stats = tuple[datetime | None, datetime | None]  # a row group's least first_seen, last last_seen


def spans_of(days: Iterable[date], reach: int) -> tuple[Span, ...]:
    """Each day widened by `reach` days either side, as merged intervals."""
    out: list[Span] = []
    for d in sorted(days):
        lo = datetime.combine(d - timedelta(days=reach), time.min, UTC)
        hi = datetime.combine(d + timedelta(days=reach + 1), time.min, UTC)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _meets(stats: Stats, spans: Sequence[Span]) -> bool:
    """Whether stories seen within `stats` can meet a span (no statistics: they can)."""
    first, last = stats
    return any((last is None or last >= lo) and (first is None or first < hi) for lo, hi in spans)


def _covers(held: Sequence[Span], wanted: Sequence[Span]) -> bool:
    return all(any(lo <= a and b <= hi for lo, hi in held) for a, b in wanted)


@dataclass(slots=True)
class StoryFile:
    """A book's entry for one stories file: small whatever the file's age; rows are kept only
    for the stories a batch can still meet, so memory follows the window, not the dataset."""

    stamp: object
    groups: list[Stats]  # per row group, from the footer
    spans: tuple[Span, ...] = ()  # what `rows` were chosen for
    rows: dict[str, str | None] = field(default_factory=dict)  # story_id -> merged_into

    @classmethod
    def open(cls, loc: Location, path: str, stamp: object) -> StoryFile:
        with loc.fs.open_input_file(path) as f:
            meta = pq.ParquetFile(f).metadata
        groups: list[Stats] = []
        for g in range(meta.num_row_groups):
            got: dict[str, datetime | None] = {"first_seen": None, "last_seen": None}
            for c in range(meta.num_columns):
                col = meta.row_group(g).column(c)
                name, stats = col.path_in_schema, col.statistics
                if name in got and stats is not None and stats.has_min_max:
                    got[name] = stats.min if name == "first_seen" else stats.max
            groups.append((got["first_seen"], got["last_seen"]))
        return cls(stamp, groups)

    def choose(self, loc: Location, path: str, spans: tuple[Span, ...]) -> None:
        """Keep the rows of the stories that meet `spans`: a row group none of whose
        stories can is not read, a file with no such group costs its footer only."""
        self.spans, self.rows = spans, {}
        wanted = [g for g, stats in enumerate(self.groups) if _meets(stats, spans)]
        if not wanted:
            return
        cols = ["story_id", "merged_into", "first_seen", "last_seen"]
        with loc.fs.open_input_file(path) as f:
            table = pq.ParquetFile(f).read_row_groups(wanted, cols)
        first, last = table.column("first_seen"), table.column("last_seen")
        mask = pa.repeat(pa.scalar(False), table.num_rows)
        for lo, hi in spans:
            mask = pc.or_(mask, pc.and_(pc.greater_equal(last, lo), pc.less(first, hi)))
        kept = table.filter(mask)
        self.rows = dict(
            zip(
                kept.column("story_id").to_pylist(),
                kept.column("merged_into").to_pylist(),
                strict=True,
            )
        )


@dataclass
class StoryBook:
    """A writer's story state: the matcher's index and where the rows of the stories it can
    still meet live (stories within the window of the days being written)."""

    window: timedelta = WINDOW
    index: StoryIndex = field(init=False)
    _indexed: set[tuple[str, object]] = field(default_factory=set)  # article files read
    _known: dict[str, tuple[date, str]] = field(default_factory=dict)  # loaded: day, story
    _story_files: dict[str, StoryFile] = field(default_factory=dict)  # "part/name" -> entry
    _merges: set[tuple[str, str]] = field(default_factory=set)  # fed to the index, held rows
    lookups: int = 0  # stories looked for on disk beyond the held rows (see `locate`)

    def __post_init__(self) -> None:
        self.index = StoryIndex(self.window)

    def rows_where(self) -> dict[str, str]:
        """story_id -> "part/name" of the stories file holding its row, for held rows."""
        return {sid: key for key, f in self._story_files.items() for sid in f.rows}

    def stored_merges(self) -> dict[str, str]:
        return {
            sid: into for f in self._story_files.values() for sid, into in f.rows.items() if into
        }

    def refresh(
        self, loc: Location, files: Mapping[str, tuple[object, list[str]]], days: set[date]
    ) -> None:
        """Read what changed on disk since the last batch: the rows (merges) of the stories
        that can meet the window of `days`, and the stored articles of the days within it."""
        span = self.window.days + 1
        self._read_story_files(loc, spans_of(days, span))
        merges = set(self.stored_merges().items())
        for absorbed, into in sorted(merges - self._merges):
            self.index.merged(absorbed, into)
        self._merges = merges
        wanted = {d + timedelta(days=k) for d in days for k in range(-span, span + 1)}
        for key, (stamp, ids) in sorted(files.items()):
            if _day_of(key) not in wanted or (key, stamp) in self._indexed:
                continue
            self._indexed.add((key, stamp))
            if all(aid in self._known for aid in ids):  # e.g. a file this writer wrote
                continue
            path = loc.path("articles", key)
            present = pq.read_schema(path, filesystem=loc.fs).names
            if "story_id" not in present:
                continue  # before version 5: no stories to join
            cols = [c for c in _ARTICLE_COLUMNS if c in present]
            for row in read_file(loc, path, cols).to_pylist():
                if row["article_id"] not in self._known and row.get("story_id"):
                    self.index.load(row_doc(row), row["story_id"])
                    self._known[row["article_id"]] = (_day_of(key), row["story_id"])

    def _read_story_files(self, loc: Location, spans: tuple[Span, ...]) -> None:
        found: dict[str, StoryFile] = {}
        for part, infos in list_partitions(loc, "stories").items():
            for info in infos:
                key, stamp = f"{part}/{info.base_name}", (info.mtime_ns, info.size)
                hit = self._story_files.get(key)
                if hit is None or hit.stamp != stamp:
                    hit = StoryFile.open(loc, info.path, stamp)
                if not _covers(hit.spans, spans):  # held rows of wider spans serve as well
                    hit.choose(loc, info.path, spans)
                found[key] = hit
        self._story_files = found

    def locate(self, loc: Location, story_id: str) -> str | None:
        """The file holding a story's row when it is not among the held rows: e.g. an article
        re-processed with a later date keeps a story whose row no longer spans it. Reads the
        story_id column of every stories file: rare, so it is not cached."""
        self.lookups += 1
        for part, infos in list_partitions(loc, "stories").items():
            for info in infos:
                ids = read_file(loc, info.path, ["story_id"]).column("story_id")
                if pc.any(pc.equal(ids, story_id)).as_py():
                    return f"{part}/{info.base_name}"
        return None

    def assign(
        self, fresh: Sequence[Article], stored: Mapping[str, str]
    ) -> tuple[dict[str, str], list[tuple[str, str]], list[str]]:
        """story_id per article, the merges decided, and the articles new to their story.

        An article with a `stored` story_id (re-processing) keeps it and is not counted again.
        """
        story_of: dict[str, str] = {}
        merges: list[tuple[str, str]] = []
        counted: list[str] = []
        order = sorted(fresh, key=lambda a: (when_of(a.published_at, a.fetched_at), a.article_id))
        for art in order:
            aid, doc = art.article_id or "", article_doc(art)
            if aid in stored:
                story_of[aid] = stored[aid]
                if aid not in self._known:
                    self.index.load(doc, stored[aid])
            else:
                got = self.index.assign(doc)
                story_of[aid] = got.story_id
                merges += got.merged
                counted.append(aid)
            self._known[aid] = (doc.when.date(), story_of[aid])
        self.index.trim()
        self._forget()
        return story_of, merges, counted

    def _forget(self) -> None:
        """Drop what the index no longer holds, so memory follows the window."""
        live = self.index.stories
        newest = self.index.newest or datetime.now(UTC)
        cutoff = (newest - self.window).date() - timedelta(days=1)
        self._known = {
            aid: (day, sid)
            for aid, (day, sid) in self._known.items()
            if day >= cutoff or self.index.resolve(sid) in live
        }
        self._indexed = {f for f in self._indexed if _day_of(f[0]) >= cutoff}


def stored_story_ids(loc: Location, where: Mapping[str, str], ids: Iterable[str]) -> dict[str, str]:
    """The story_id already written for each of `ids` that is stored (re-processing)."""
    by_file: dict[str, set[str]] = {}
    for aid in ids:
        if aid in where:
            by_file.setdefault(where[aid], set()).add(aid)
    out: dict[str, str] = {}
    for key, wanted in by_file.items():
        path = loc.path("articles", key)
        if "story_id" not in pq.read_schema(path, filesystem=loc.fs).names:
            continue
        table = read_file(loc, path, ["article_id", "story_id"])
        for aid, sid in zip(
            *(table.column(c).to_pylist() for c in table.column_names), strict=True
        ):
            if aid in wanted and sid:
                out[aid] = sid
    return out
