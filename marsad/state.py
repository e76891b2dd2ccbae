"""Fetch state that outlives a run: HTTP validators, pending URLs, the retry queue, robots.txt.

Pending URLs are what makes discovery crash-safe: a feed's new validators are committed in
the same transaction as the URLs it listed, and a URL leaves the pending set only once its
article or failure row is durably written, so a crash between the two loses nothing.

One SQLite file under the output directory (`DIR/state/fetch.sqlite`), so a run
directory carries everything the next run needs, and deleting it starts afresh.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

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
CREATE TABLE IF NOT EXISTS pending (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    feed_title TEXT,
    feed_published_at TEXT,
    language_hint TEXT,
    found_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS host_time (
    run_id TEXT NOT NULL,
    host TEXT NOT NULL,
    seconds REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (run_id, host)
);
CREATE TABLE IF NOT EXISTS robots (
    host TEXT PRIMARY KEY,
    status INTEGER NOT NULL,
    body BLOB NOT NULL,
    fetched_at REAL NOT NULL
);
"""


def _item_values(item: FeedItem) -> tuple[str, str, str | None, str | None, str | None]:
    published = item.feed_published_at.isoformat() if item.feed_published_at else None
    return item.url, item.source, item.feed_title, published, item.language_hint


def _item_from(row: Sequence[Any]) -> FeedItem:
    url, source, title, published, hint = row
    when = datetime.fromisoformat(published).astimezone(UTC) if published else None
    return FeedItem(url, source, title, when, hint)


def state_path(out: str | os.PathLike[str]) -> Path:
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
    def for_output(cls, out: str | os.PathLike[str]) -> StateStore:
        return cls(state_path(out))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
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

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One SQLite transaction: everything inside commits together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- pending URLs --------------------------------------------------------------------

    def record_discovery(
        self,
        url: str,
        items: Sequence[FeedItem],
        validators: tuple[str | None, str | None, bytes] | None,
    ) -> None:
        """A feed's or sitemap's items become pending in the transaction that saves its
        validators (etag, last-modified, body), so the next 304 cannot hide them."""
        now = time.time()
        with self.transaction():
            if validators is not None:
                self.record_full(url, *validators)
            self.db.executemany(
                "INSERT OR IGNORE INTO pending (url, source, feed_title, feed_published_at, "
                "language_hint, found_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(*_item_values(i), now) for i in items],
            )

    def pending(self, sources: Collection[str]) -> list[FeedItem]:
        """Pending URLs of these sources, oldest first (the next run takes them first)."""
        rows = self.db.execute(
            "SELECT url, source, feed_title, feed_published_at, language_hint FROM pending "
            "ORDER BY found_at, rowid"
        ).fetchall()
        return [_item_from(r) for r in rows if r[1] in sources]

    def settle(self, urls: Iterable[str]) -> None:
        """These URLs are accounted for (an article or failure row is durable): not pending."""
        with self.transaction():
            self.db.executemany("DELETE FROM pending WHERE url = ?", [(u,) for u in urls])

    # --- per-host time within a run ------------------------------------------------------

    def host_seconds(self, run_id: str) -> dict[str, float]:
        rows = self.db.execute(
            "SELECT host, seconds FROM host_time WHERE run_id = ?", (run_id,)
        ).fetchall()
        return {host: seconds for host, seconds in rows}

    def add_host_seconds(self, run_id: str, spent: Mapping[str, float]) -> None:
        """Add a batch's time per host to the run's (batches are separate sessions)."""
        with self.transaction():
            now = time.time()
            # a run lasts hours at most: older tallies are of runs long finished
            self.db.execute("DELETE FROM host_time WHERE updated_at < ?", (now - 2 * 86_400,))
            self.db.executemany(
                "INSERT INTO host_time (run_id, host, seconds, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(run_id, host) DO UPDATE SET "
                "seconds = seconds + excluded.seconds, updated_at = excluded.updated_at",
                [(run_id, h, s, now) for h, s in spent.items()],
            )

    # --- retry queue -----------------------------------------------------------------------

    def queue_retry(self, item: FeedItem, attempts: int, error: str, max_runs: int) -> QueuedRetry:
        """Count a run's transient failure; after `max_runs` runs the URL is quarantined."""
        row = self.db.execute(
            "SELECT attempts, runs FROM retry_queue WHERE url = ?", (item.url,)
        ).fetchone()
        total = attempts + (row[0] if row else 0)
        runs = 1 + (row[1] if row else 0)
        quarantined = runs >= max_runs
        self.db.execute(
            "INSERT OR REPLACE INTO retry_queue (url, source, feed_title, feed_published_at, "
            "language_hint, attempts, runs, last_error, quarantined, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                *_item_values(item),
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
        attempts, runs, error, q = row[5:]
        return QueuedRetry(_item_from(row[:5]), attempts, runs, error, bool(q))

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
