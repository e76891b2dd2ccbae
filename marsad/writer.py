"""Writing a batch: articles, their entity mentions, failures and stories, as one transaction.

Under the output's writer lock (marsad.dataset) a batch is checked against the article_ids
already stored, given its near-duplicate groups (marsad.dedup) and its stories (story_id, and
the `stories/` rows it changes, in the same transaction: marsad.stories), and its partitions
are swapped in atomically. Re-processing (`replace=True`) supersedes an article's row and
mentions instead of skipping it, keeping its story_id. A partition holding more than
`MAX_FILES` files is compacted on the spot, so a run every 15 minutes never leaves a day of
96 tiny files.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from marsad.compact import compact_locked, partition_files
from marsad.dataset import (
    DATASETS,
    Location,
    list_partitions,
    part_name,
    read_file,
    read_rows,
    resolve,
)
from marsad.dedup import DayDupIndex
from marsad.record import Article, Failure
from marsad.schema import SCHEMAS, SORT_KEYS
from marsad.stories import StoryBook, stored_story_ids
from marsad.stories_store import stage_stories
from marsad.transaction import Transaction, writer_lock

MAX_FILES = 12  # files per partition and dataset before the store step compacts it
# The store step merges only a crowded partition's smallest files, up to this many bytes on
# disk, so its memory does not grow with the day's volume; `marsad compact` merges everything.
AUTO_COMPACT_BYTES = 2 << 20
DUP_WINDOW = timedelta(days=3)  # copies are looked for this far around a batch


def partition_of(day: date) -> str:
    return f"date={day.isoformat()}"


def _day_of(key: str) -> date:
    """The day of a "date=YYYY-MM-DD/name" file key."""
    return date.fromisoformat(key[5:15])


def _partition_date(art: Article) -> date:
    return (art.published_at or art.fetched_at).date()


def article_rows(
    articles: Iterable[Article], stories: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    stories = stories or {}
    return [
        {
            "article_id": a.article_id,
            "url": a.url,
            "canonical_url": a.canonical_url,
            "source": a.source,
            "title": a.title,
            "author": a.author,
            "published_at": a.published_at,
            "fetched_at": a.fetched_at,
            "language": a.language,
            "text": a.text,
            "text_norm": a.text_norm,
            "entities": [
                {
                    "text": e.text,
                    "norm": e.norm,
                    "label": e.label,
                    "start": e.start,
                    "end": e.end,
                    "entity_id": e.entity_id,
                    "name": e.name,
                    "name_en": e.name_en,
                    "country": e.country,
                    "lat": e.lat,
                    "lon": e.lon,
                    "title": e.title,
                }
                for e in a.entities
            ],  # not asdict(): its deep copy cost ~1 ms an article
            "run_id": a.run_id,
            "dup_group": a.dup_group,
            "story_id": stories.get(a.article_id or ""),
        }
        for a in articles
    ]


def mention_rows(articles: Iterable[Article]) -> list[dict[str, Any]]:
    return [
        {
            "article_id": a.article_id,
            "source": a.source,
            "published_at": a.published_at,
            "text": e.text,
            "norm": e.norm,
            "label": e.label,
            "entity_id": e.entity_id,
            "start": e.start,
            "end": e.end,
            "name": e.name,
            "name_en": e.name_en,
            "country": e.country,
            "lat": e.lat,
            "lon": e.lon,
            "title": e.title,
        }
        for a in articles
        for e in a.entities
    ]


def failure_rows(failures: Iterable[Failure]) -> list[dict[str, Any]]:
    return [
        {
            "url": f.url,
            "source": f.source,
            "stage": f.stage,
            "error": f.error,
            "attempts": f.attempts,
            "run_id": f.run_id,
            "at": f.at,
            "kind": f.kind,
        }
        for f in failures
    ]


ROWS = {"articles": article_rows, "mentions": mention_rows}


def _sorted(table: pa.Table, dataset: str) -> pa.Table:
    return table.sort_by([(SORT_KEYS[dataset], "ascending")])


def to_table(rows: list[dict[str, Any]], dataset: str) -> pa.Table:
    return _sorted(pa.Table.from_pylist(rows, schema=SCHEMAS[dataset]), dataset)


def _free_name(names: dict[str, list[str]], run_id: str, seq: int) -> str:
    """part-<run>-<seq>.parquet, unless a re-run of the same run and batch already used it."""
    taken = {n for files in names.values() for n in files}
    name, k = part_name(run_id, seq), 0
    while name in taken:
        k += 1
        name = part_name(f"{run_id}-{seq:05d}", k)
    return name


class Writer:
    """One process's writer for one output; caches what it has read, writes under the lock."""

    def __init__(self, out: str | os.PathLike[str] | Location) -> None:
        self.loc: Location = resolve(out)
        self._files: dict[str, tuple[object, list[str]]] = {}  # "part/name" -> (stamp, ids)
        self._dups = DayDupIndex(window=DUP_WINDOW)
        self._dup_indexed: set[tuple[str, object]] = set()
        self._stories = StoryBook()

    def _where(self) -> dict[str, str]:
        """article_id -> "part/name" of the file holding it; reads only new or changed files."""
        files: dict[str, tuple[object, list[str]]] = {}
        for part, infos in list_partitions(self.loc, "articles").items():
            for info in infos:
                key, stamp = f"{part}/{info.base_name}", (info.mtime_ns, info.size)
                hit = self._files.get(key)
                if hit is None or hit[0] != stamp:
                    col = read_file(self.loc, info.path, ["article_id"]).column("article_id")
                    hit = (stamp, col.to_pylist())
                files[key] = hit
        self._files = files
        return {aid: key for key, (_, ids) in files.items() for aid in ids}

    def _index_dups(self, days: set[date]) -> None:
        """Index the stored articles of the days around `days` that are not indexed yet."""
        wanted = {d for day in days for d in self._dups.around(day)}
        for key, (stamp, ids) in sorted(self._files.items()):
            day = _day_of(key)
            if day not in wanted or (key, stamp) in self._dup_indexed:
                continue
            index = self._dups.day(day)
            self._dup_indexed.add((key, stamp))
            if all(aid in index.groups for aid in ids):  # e.g. the file this writer just wrote
                continue
            path = self.loc.path("articles", key)
            present = pq.read_schema(path, filesystem=self.loc.fs).names
            wanted_cols = [c for c in ("article_id", "dup_group", "title", "text") if c in present]
            for row in read_file(self.loc, path, wanted_cols).to_pylist():
                group = row.get("dup_group") or row["article_id"]
                index.add(row["article_id"], group, row["title"], row["text"])

    def store(
        self,
        articles: Sequence[Article],
        failures: Sequence[Failure],
        run_id: str,
        seq: int,
        replace: bool = False,
    ) -> tuple[list[Article], list[str]]:
        """Write a batch; returns the articles written and the paths of the new article,
        mention and failure files.

        Without `replace` an article whose id is stored already is skipped; with it, its old
        row and mentions are removed in the same transaction that adds the new ones.
        """
        with writer_lock(self.loc):
            where = self._where()
            chosen: dict[str, Article] = {}
            for art in articles:
                if not art.article_id:
                    raise ValueError(f"article without article_id: {art.url}")
                if replace or (art.article_id not in where and art.article_id not in chosen):
                    chosen[art.article_id] = art
            fresh = list(chosen.values())
            if fresh:
                self._index_dups({_partition_date(a) for a in fresh})
                for aid, art in chosen.items():
                    art.dup_group = self._dups.assign(
                        aid, _partition_date(art), art.title, art.text
                    )
                dropped = self._dups.trim()  # memory stays bounded in a long-lived worker
                self._dup_indexed = {f for f in self._dup_indexed if _day_of(f[0]) not in dropped}
            superseded = where if replace else {}
            stories = self._assign_stories(fresh, superseded, run_id, seq)
            try:
                paths = self._commit(fresh, failures, superseded, run_id, seq, stories)
            except BaseException:
                self._stories = StoryBook()  # it holds what was not written: rebuild from disk
                raise
        return fresh, paths

    def _assign_stories(
        self, fresh: list[Article], where: dict[str, str], run_id: str, seq: int
    ) -> tuple[Transaction, dict[str, str]]:
        """Each article's story_id (kept when re-processed), and the transaction that already
        holds the stories rows it changes: they are swapped in before the articles."""
        txn = Transaction(self.loc)
        if not fresh:
            return txn, {}
        kept = stored_story_ids(self.loc, where, [a.article_id or "" for a in fresh])
        self._stories.refresh(self.loc, self._files, {_partition_date(a) for a in fresh})
        story_of, merges, counted = self._stories.assign(fresh, kept)
        stage_stories(txn, self._stories, fresh, story_of, merges, counted, run_id, seq)
        return txn, story_of

    def _commit(
        self,
        fresh: list[Article],
        failures: Sequence[Failure],
        where: dict[str, str],
        run_id: str,
        seq: int,
        stories: tuple[Transaction, dict[str, str]],
    ) -> list[str]:
        txn, story_of = stories
        new_by_part: dict[str, list[Article]] = defaultdict(list)
        for art in fresh:
            new_by_part[partition_of(_partition_date(art))].append(art)
        victims: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for art in fresh:
            if art.article_id in where:
                part, name = where[art.article_id].split("/")
                victims[part][name].add(art.article_id)
        fails_by_part: dict[str, list[Failure]] = defaultdict(list)
        for f in failures:
            fails_by_part[partition_of(f.at.date())].append(f)
        current = partition_files(self.loc)
        empty: dict[str, list[str]] = {d: [] for d in DATASETS}
        parts = sorted(victims.keys() | new_by_part.keys() | fails_by_part.keys())
        names = {part: current.get(part, empty) for part in parts}
        final = {part: _free_name(names[part], run_id, seq) for part in parts}
        rest = {
            (dataset, part): self._remainders(dataset, part, names[part][dataset], victims[part])
            for part in victims
            for dataset in ROWS
        }
        paths: list[str] = []
        # Phase 1: partitions drop superseded rows; phase 2: new rows arrive. A re-processed
        # article may be missing for a moment in between, never visible twice, even when two
        # articles trade partitions.
        for part in sorted(victims):
            pre = final[part]
            if part in new_by_part:  # a name of its own: phase 2 replaces this file
                pre = _free_name({**names[part], "phase2": [final[part]]}, run_id, seq)
            for dataset in ROWS:
                files = names[part][dataset]
                keep = [n for n in files if n not in victims[part]]
                if len(keep) != len(files):
                    tables = rest[dataset, part]
                    new = {pre: _sorted(pa.concat_tables(tables), dataset)} if tables else {}
                    paths += txn.stage(dataset, part, keep, new)
        for part in parts:
            name = final[part]
            for dataset in ROWS:
                arts = new_by_part.get(part, [])
                rows = article_rows(arts, story_of) if dataset == "articles" else mention_rows(arts)
                if not rows:
                    continue
                files = names[part][dataset]
                keep = [n for n in files if n not in victims[part]]
                # A name never gets new content (readers may open a path twice): what is
                # left of superseded files joins the new rows in the new file.
                tables = [*rest.get((dataset, part), []), to_table(rows, dataset)]
                paths += txn.stage(
                    dataset, part, keep, {name: _sorted(pa.concat_tables(tables), dataset)}
                )
            if part in fails_by_part:
                table = to_table(failure_rows(fails_by_part[part]), "failures")
                paths += txn.stage("failures", part, names[part]["failures"], {name: table})
        txn.commit()
        crowded = [
            part[5:]
            for part, names in partition_files(self.loc).items()
            if part in parts and max(len(n) for n in names.values()) > MAX_FILES
        ]
        if crowded:
            compact_locked(self.loc, crowded, budget_bytes=AUTO_COMPACT_BYTES)
        return paths

    def _remainders(
        self, dataset: str, part: str, present: list[str], victims: dict[str, set[str]]
    ) -> list[pa.Table]:
        """The rows of `part`'s files that held superseded articles, minus those articles."""
        out: list[pa.Table] = []
        for name, ids in victims.items():
            if name not in present:
                continue
            table = read_rows(self.loc, dataset, part, name)
            table = table.filter(pc.invert(pc.is_in(table["article_id"], pa.array(sorted(ids)))))
            if table.num_rows:
                out.append(table)
        return out


_WRITERS: dict[str, Writer] = {}


def writer_for(out: str | os.PathLike[str]) -> Writer:
    """The process's writer for `out` (its caches make each batch read only new files).

    Keyed by the resolved output, so `file:///srv/marsad`, `/srv/marsad` and a relative path
    to it share one writer."""
    loc = resolve(out)
    if loc.key not in _WRITERS:
        _WRITERS[loc.key] = Writer(loc)
    return _WRITERS[loc.key]
