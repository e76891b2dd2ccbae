"""Ingest progress per WARC file, in the state store's SQLite file (DIR/state/fetch.sqlite).

A row per file: the offset of the first record not yet stored, and whether the file is
finished. The flow writes a file's new offset only after the store transaction of the
records before it has committed, so a killed ingest re-reads at most one chunk per file,
and the articles of that chunk are then skipped as already stored.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from marsad.state import StateStore, state_path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ingest_files (
    uri TEXT PRIMARY KEY,
    next_offset INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    updated_at TEXT NOT NULL
);
"""


class IngestState(StateStore):
    """Where each WARC file's reading stands: the state store's connection (one SQLite file,
    same pragmas, every write committing at once) with the ingest table beside its own."""

    def __init__(self, out: str | os.PathLike[str]) -> None:
        super().__init__(state_path(out))
        self.db.executescript(_SCHEMA)

    def position(self, uri: str) -> tuple[int, bool]:
        """(offset to resume at, finished) of a file; (0, False) for one never read."""
        row = self.db.execute(
            "SELECT next_offset, done FROM ingest_files WHERE uri = ?", (uri,)
        ).fetchone()
        return (0, False) if row is None else (int(row[0]), bool(row[1]))

    def commit(self, uri: str, next_offset: int | None, error: str | None = None) -> None:
        """Records before `next_offset` are stored; None: the file is finished (its reading
        ended on `error`, when given, which re-reading would only meet again)."""
        done = next_offset is None
        self.db.execute(
            "INSERT INTO ingest_files (uri, next_offset, done, error, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (uri) DO UPDATE SET "
            "next_offset = CASE WHEN excluded.done THEN next_offset ELSE excluded.next_offset END, "
            "done = excluded.done, error = excluded.error, updated_at = excluded.updated_at",
            (uri, next_offset or 0, int(done), error, datetime.now(UTC).isoformat()),
        )
