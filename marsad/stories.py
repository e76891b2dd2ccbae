"""Stories on disk: the writer's StoryIndex rebuilt from stored rows, and a story's row.

The matcher (marsad.story_match) decides which story an article joins; this module feeds it
the stored articles of the days around a batch (only the columns it needs, only files it has
not read yet, so a long-lived writer reads each file once and a restarted one reads the window,
not the dataset's history) and keeps each story's row: counts, sources and top entities
updated incrementally, so a batch rewrites only the rows it touches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

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


@dataclass
class StoryBook:
    """A writer's story state: the matcher's index and where each stored story's row lives."""

    window: timedelta = WINDOW
    index: StoryIndex = field(init=False)
    _indexed: set[tuple[str, object]] = field(default_factory=set)  # article files read
    _known: dict[str, tuple[date, str]] = field(default_factory=dict)  # loaded: day, story
    # stories file "part/name" -> (stamp, [(story_id, merged_into)])
    _story_files: dict[str, tuple[object, list[tuple[str, str | None]]]] = field(
        default_factory=dict
    )
    _merges: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.index = StoryIndex(self.window)

    def rows_where(self) -> dict[str, str]:
        """story_id -> "part/name" of the stories file holding its row."""
        return {sid: key for key, (_, rows) in self._story_files.items() for sid, _ in rows}

    def stored_merges(self) -> dict[str, str]:
        return {sid: into for _, rows in self._story_files.values() for sid, into in rows if into}

    def refresh(
        self, loc: Location, files: Mapping[str, tuple[object, list[str]]], days: set[date]
    ) -> None:
        """Read what changed on disk since the last batch: stories rows (merges) and the
        stored articles of the days within the window of `days`."""
        self._read_story_files(loc)
        for absorbed, into in sorted(self.stored_merges().items()):
            if (absorbed, into) not in self._merges:
                self._merges.add((absorbed, into))
                self.index.merged(absorbed, into)
        span = self.window.days + 1
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

    def _read_story_files(self, loc: Location) -> None:
        found: dict[str, tuple[object, list[tuple[str, str | None]]]] = {}
        for part, infos in list_partitions(loc, "stories").items():
            for info in infos:
                key, stamp = f"{part}/{info.base_name}", (info.mtime_ns, info.size)
                hit = self._story_files.get(key)
                if hit is None or hit[0] != stamp:
                    table = read_file(loc, info.path, ["story_id", "merged_into"])
                    pairs = zip(
                        table.column("story_id").to_pylist(),
                        table.column("merged_into").to_pylist(),
                        strict=True,
                    )
                    hit = (stamp, list(pairs))
                found[key] = hit
        self._story_files = found

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
