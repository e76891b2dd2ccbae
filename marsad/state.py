"""Fetch state that outlives a run: HTTP validators, the retry queue and robots.txt.

One SQLite file under the output directory (`DIR/state/fetch.sqlite`), so a run
directory carries everything the next run needs, and deleting it starts afresh.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from marsad.dataset import workdir
from marsad.record import FeedItem

_SCHEMA = """
CREATE TABLE IF NOT EXISTS validators (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    body_sha256 TEXT,
    unreliable INTEGER NOT NULL DEFAULT 0,
    not_modified_streak INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS retry_queue (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    feed_title TEXT,
    feed_published_at TEXT,
    language_hint TEXT,
    attempts INTEGER NOT NULL,
    runs INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    quarantined INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS robots (
    host TEXT PRIMARY KEY,
    status INTEGER NOT NULL,
    body BLOB NOT NULL,
    fetched_at REAL NOT NULL
);
"""


def state_path(out: str | Path) -> Path:
    return workdir(out) / "state" / "fetch.sqlite"


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(slots=True)
class Validators:
    etag: str | None
    last_modified: str | None
    body_sha256: str | None
    unreliable: bool
    not_modified_streak: int


@dataclass(slots=True)
class QueuedRetry:
    item: FeedItem
    attempts: int
    runs: int
    last_error: str
    quarantined: bool


class StateStore:
    """Thin, synchronous SQLite access; every write commits at once (a crash loses nothing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a crash of marsad loses nothing; only a power cut may lose the
        # last commits, which costs a re-fetch. FULL would fsync on every 304 and retry.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    @classmethod
    def for_output(cls, out: str | Path) -> StateStore:
        return cls(state_path(out))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- conditional GET -------------------------------------------------------------------

    def validators(self, url: str) -> Validators | None:
        row = self.db.execute(
            "SELECT etag, last_modified, body_sha256, unreliable, not_modified_streak "
            "FROM validators WHERE url = ?",
            (url,),
        ).fetchone()
        if row is None:
            return None
        return Validators(row[0], row[1], row[2], bool(row[3]), row[4])

    def record_not_modified(self, url: str) -> None:
        self.db.execute(
            "UPDATE validators SET not_modified_streak = not_modified_streak + 1, updated_at = ? "
            "WHERE url = ?",
            (time.time(), url),
        )

    def record_full(
        self, url: str, etag: str | None, last_modified: str | None, body: bytes
    ) -> bool:
        """Store the validators of a 200; returns True when they proved unreliable.

        Unreliable means the server sent the same validator as last time for different
        bytes: it would answer 304 while the content changed, so conditional GET is
        switched off for that URL from now on.
        """
        digest = body_hash(body)
        old = self.validators(url)
        unreliable = bool(old and old.unreliable)
        if old and old.body_sha256 and old.body_sha256 != digest:
            same_etag = etag is not None and etag == old.etag
            same_lm = etag is None and last_modified is not None
            same_lm = same_lm and last_modified == old.last_modified
            unreliable = unreliable or same_etag or same_lm
        self.db.execute(
            "INSERT INTO validators (url, etag, last_modified, body_sha256, unreliable, "
            "not_modified_streak, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?) "
            "ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, "
            "last_modified = excluded.last_modified, body_sha256 = excluded.body_sha256, "
            "unreliable = excluded.unreliable, not_modified_streak = 0, "
            "updated_at = excluded.updated_at",
            (url, etag, last_modified, digest, int(unreliable), time.time()),
        )
        return unreliable and not (old and old.unreliable)

    # --- retry queue -----------------------------------------------------------------------

    def queue_retry(self, item: FeedItem, attempts: int, error: str, max_runs: int) -> QueuedRetry:
        """Count a run's transient failure; after `max_runs` runs the URL is quarantined."""
        row = self.db.execute(
            "SELECT attempts, runs FROM retry_queue WHERE url = ?", (item.url,)
        ).fetchone()
        total = attempts + (row[0] if row else 0)
        runs = 1 + (row[1] if row else 0)
        quarantined = runs >= max_runs
        published = item.feed_published_at.isoformat() if item.feed_published_at else None
        self.db.execute(
            "INSERT OR REPLACE INTO retry_queue (url, source, feed_title, feed_published_at, "
            "language_hint, attempts, runs, last_error, quarantined, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.url,
                item.source,
                item.feed_title,
                published,
                item.language_hint,
                total,
                runs,
                error,
                int(quarantined),
                time.time(),
            ),
        )
        return QueuedRetry(item, total, runs, error, quarantined)

    def clear_retry(self, url: str) -> int:
        """Forget a URL that succeeded or failed for good; returns the attempts it had used."""
        row = self.db.execute("SELECT attempts FROM retry_queue WHERE url = ?", (url,)).fetchone()
        if row is None:
            return 0  # the common case: no write, no fsync
        self.db.execute("DELETE FROM retry_queue WHERE url = ? AND quarantined = 0", (url,))
        return int(row[0])

    _COLUMNS = (
        "url, source, feed_title, feed_published_at, language_hint, attempts, runs, "
        "last_error, quarantined"
    )

    @staticmethod
    def _queued_row(row: tuple[Any, ...]) -> QueuedRetry:
        url, source, title, published, hint, attempts, runs, error, q = row
        when = datetime.fromisoformat(published).astimezone(UTC) if published else None
        item = FeedItem(url, source, title, when, hint)
        return QueuedRetry(item, attempts, runs, error, bool(q))

    def queued(self, quarantined: bool = False) -> list[QueuedRetry]:
        rows = self.db.execute(
            f"SELECT {self._COLUMNS} FROM retry_queue WHERE quarantined = ? ORDER BY updated_at",
            (int(quarantined),),
        ).fetchall()
        return [self._queued_row(r) for r in rows]

    def quarantined(self, url: str) -> QueuedRetry | None:
        row = self.db.execute(
            f"SELECT {self._COLUMNS} FROM retry_queue WHERE url = ? AND quarantined = 1", (url,)
        ).fetchone()
        return self._queued_row(row) if row else None

    # --- robots.txt ------------------------------------------------------------------------

    def robots(self, host: str, ttl_s: float) -> tuple[int, bytes] | None:
        row = self.db.execute(
            "SELECT status, body, fetched_at FROM robots WHERE host = ?", (host,)
        ).fetchone()
        if row is None or time.time() - row[2] > ttl_s:
            return None
        return row[0], row[1]

    def save_robots(self, host: str, status: int, body: bytes) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO robots (host, status, body, fetched_at) VALUES (?, ?, ?, ?)",
            (host, status, body, time.time()),
        )
