"""A batch's changes to `stories/`, staged in the writer's transaction before the articles.

A story's row lives in the partition of its first article's day and never moves, so a reader
that lists the partitions sees each story once. Rows a batch touches (stories joined, opened,
absorbed or absorbing) are rewritten into one new file per partition with the untouched rows
of the files that held them. The stories are staged ahead of the articles: the partitions are
swapped in that order, so no reader sees an article whose story row is not there yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from marsad.compact import partition_files
from marsad.dataset import Location, part_name, read_rows
from marsad.record import Article
from marsad.schema import SCHEMAS, SORT_KEYS
from marsad.stories import StoryBook, StoryRow, day_part, when_of
from marsad.transaction import Transaction


def _stories_table(rows: list[dict[str, object]]) -> pa.Table:
    table = pa.Table.from_pylist(rows, schema=SCHEMAS["stories"])
    return table.sort_by([(SORT_KEYS["stories"], "ascending"), ("story_id", "ascending")])


class _Rows:
    """The touched rows, read from disk once, plus new stories; merges followed on disk."""

    def __init__(self, loc: Location, book: StoryBook, new: set[str]) -> None:
        self.loc = loc
        self.book = book
        self.where = book.rows_where()
        self.new = new  # stories this batch opened: no row on disk (transactions are atomic)
        self.rows: dict[str, StoryRow] = {}
        self._tables: dict[str, dict[str, dict[str, object]]] = {}
        self._looked: set[str] = set()

    def key_of(self, sid: str) -> str | None:
        """The file holding `sid`'s row: among the book's held rows, else looked for on disk
        (the book holds only the stories that can meet the batch's window)."""
        if sid not in self.where and sid not in self.new and sid not in self._looked:
            self._looked.add(sid)
            key = self.book.locate(self.loc, sid)
            if key is not None:
                self.where[sid] = key
        return self.where.get(sid)

    def file_rows(self, key: str) -> dict[str, dict[str, object]]:
        """The rows of one stories file ("part/name"), by story_id."""
        if key not in self._tables:
            part, name = key.split("/")
            rows = read_rows(self.loc, "stories", part, name).to_pylist()
            self._tables[key] = {str(r["story_id"]): r for r in rows}
        return self._tables[key]

    def get(self, sid: str, part: str) -> StoryRow:
        """The row of `sid`: stored, or new in partition `part`."""
        if sid not in self.rows:
            key = self.key_of(sid)
            if key is None:
                self.rows[sid] = StoryRow(sid, part)
            else:
                stored = self.file_rows(key)[sid]
                self.rows[sid] = StoryRow.stored(stored, key.split("/")[0])
        return self.rows[sid]

    def live(self, sid: str, part: str) -> StoryRow:
        """The surviving story of `sid`, following `merged_into` (another writer may have
        merged a story this writer's index still held open)."""
        row, hops = self.get(sid, part), 0
        while row.merged_into and row.merged_into != row.story_id and hops < 1000:
            row, hops = self.get(row.merged_into, row.part), hops + 1
        return row


def stage_stories(
    txn: Transaction,
    book: StoryBook,
    fresh: Sequence[Article],
    story_of: Mapping[str, str],
    merges: Sequence[tuple[str, str]],
    counted: Sequence[str],
    run_id: str,
    seq: int,
) -> None:
    """Stage the new content of every stories partition the batch touches."""
    loc = txn.loc
    rows = _Rows(loc, book, {aid for aid in counted if story_of[aid] == aid})
    by_id = {a.article_id: a for a in fresh}
    for aid in counted:  # in time order: a story's first article founds its row
        art = by_id[aid]
        part = day_part(when_of(art.published_at, art.fetched_at).date())
        rows.live(story_of[aid], part).add(art)
    for absorbed, into in merges:
        if absorbed not in rows.rows and rows.key_of(absorbed) is None:
            continue  # no article names it: nothing to point anywhere
        gone = rows.live(absorbed, "")
        keep = rows.live(into, gone.part)
        if gone.story_id != keep.story_id:
            gone.merged_into = keep.story_id
            keep.absorb(gone)
    _stage(txn, rows, run_id, seq)


def _stage(txn: Transaction, rows: _Rows, run_id: str, seq: int) -> None:
    now = datetime.now(UTC)
    touched_files: dict[str, set[str]] = defaultdict(set)  # part -> names to rewrite
    by_part: dict[str, list[dict[str, object]]] = defaultdict(list)
    for sid, row in rows.rows.items():
        by_part[row.part].append(row.as_row(now))
        key = rows.where.get(sid)
        if key is not None:
            touched_files[key.split("/")[0]].add(key.split("/")[1])
    current = partition_files(txn.loc)
    for part in sorted(by_part):
        present = current.get(part, {}).get("stories", [])
        touched = touched_files.get(part, set())
        new_rows = by_part[part]
        ids = pa.array(sorted(str(r["story_id"]) for r in new_rows))
        tables = []
        for name in sorted(touched):
            old = list(rows.file_rows(f"{part}/{name}").values())
            table = pa.Table.from_pylist(old, SCHEMAS["stories"])
            tables.append(table.filter(pc.invert(pc.is_in(table["story_id"], ids))))
        tables.append(_stories_table(new_rows))
        merged = pa.concat_tables(tables)
        merged = merged.sort_by([(SORT_KEYS["stories"], "ascending"), ("story_id", "ascending")])
        name, k = part_name(run_id, seq), 0
        while name in present:  # a name never gets new content: readers may open it twice
            k += 1
            name = part_name(f"{run_id}-{seq:05d}-s", k)
        keep = [n for n in present if n not in touched]
        txn.stage("stories", part, keep, {name: merged})
