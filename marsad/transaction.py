"""How a writer changes the datasets safely.

On a local filesystem every change goes through a `Transaction`, under an fcntl lock held by
one writer at a time:

1. the next content of each touched partition is staged in `_staging/<txn>/` (unchanged files
   hard-linked, new files written and fsynced, none of it under a dataset directory);
2. a journal `_journal/<txn>.json` naming the swaps is written and renamed into place: the
   commit point;
3. each staged partition directory is swapped with the live one by `renameat2(RENAME_EXCHANGE)`,
   so a reader sees a partition's old file set or its new one, never a mix or a partial file;
4. the journal and the staging area are removed.

A crash before 2 leaves only staging debris; a crash after 2 is rolled forward by the next
writer (`recover`). Nothing written here besides Parquet files ends in `.parquet`.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pyarrow as pa
import pyarrow.fs as pafs

from marsad.dataset import Location, write_parquet

LOCK_FILE = "_marsad.lock"
STAGING = "_staging"
# Swapped-out partitions wait here before deletion: a reader that listed the old directory
# just before a swap can still open its files. Removed by the first writer after the grace.
RETIRED = "_retired"
RETIRE_GRACE_S = 30.0
JOURNAL = "_journal"
STAGED = ".staged"  # suffix of files in the staging area until their partition is swapped in

_libc = ctypes.CDLL(None, use_errno=True)
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> None:
    """Atomically swap two directories (Linux renameat2); readers see one or the other."""
    fn = getattr(_libc, "renameat2", None)
    if fn is not None:
        if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: fall back below
            raise OSError(err, os.strerror(err), str(a))
    # Fallback (no renameat2): a moment with the partition absent, never a mix.
    aside = a.with_name(a.name + ".old")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _marker(txid: str) -> str:
    return f"_txn-{txid}"  # not Parquet, and ignored by readers that skip `_` files


def _apply(root: Path, entry: dict[str, object]) -> None:
    """Make one journalled swap happen; safe to repeat after a crash at any point.

    The staged directory carries a marker file until it has been swapped in, so a swap is
    never done twice. Staged files end in `.staged` (no glob for `*.parquet` matches them)
    until the moment before the swap; afterwards the staging path holds the old files,
    removed at once.
    """
    live = root / str(entry["live"])
    staged = root / str(entry["staged"])
    marker = _marker(str(entry["txid"]))
    if (staged / marker).exists():
        for f in staged.iterdir():
            if f.name.endswith(STAGED):
                os.rename(f, f.with_name(f.name.removesuffix(STAGED)))
        if live.exists():
            _exchange(staged, live)
        else:
            live.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staged, live)
        _fsync_dir(live.parent)  # `staged` now holds the old files: retired with the txn
    (live / marker).unlink(missing_ok=True)
    if live.is_dir() and not os.listdir(live):
        live.rmdir()


def recover(root: Path) -> int:
    """Roll committed transactions forward and drop uncommitted debris; call under the lock."""
    done = 0
    jdir = root / JOURNAL
    if jdir.is_dir():
        for j in sorted(jdir.iterdir(), key=lambda p: p.name):
            if not j.name.endswith(".json"):
                j.unlink(missing_ok=True)  # a journal that never reached its commit rename
                continue
            for entry in json.loads(j.read_text(encoding="utf-8"))["entries"]:
                _apply(root, entry)
            j.unlink()
            done += 1
    _sweep_staging(root)
    return done


def _sweep_staging(root: Path) -> None:
    """Drop uncommitted or replayed staging folders, and retired ones past their grace."""
    staging = root / STAGING
    if not staging.is_dir():
        return
    now = time.time_ns()
    for child in staging.iterdir():
        if child.name != RETIRED:
            shutil.rmtree(child, ignore_errors=True)
            continue
        for old in child.iterdir():
            born = int(old.name.split("-", 1)[0]) if old.name[0].isdigit() else 0
            if now - born > RETIRE_GRACE_S * 1e9:
                shutil.rmtree(old, ignore_errors=True)


def _retire(root: Path, txid: str) -> None:
    retired = root / STAGING / RETIRED
    retired.mkdir(parents=True, exist_ok=True)
    os.rename(root / STAGING / txid, retired / f"{time.time_ns()}-{txid}")


@contextmanager
def writer_lock(loc: Location) -> Iterator[None]:
    """One writer at a time per output directory, across processes (fcntl.flock).

    Object stores have no such lock: there marsad assumes a single writer (see docs/schema.md).
    """
    if loc.local is None:
        yield
        return
    loc.local.mkdir(parents=True, exist_ok=True)
    with open(loc.local / LOCK_FILE, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            recover(loc.local)
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@dataclass
class Transaction:
    """The next content of some partitions, swapped in together at `commit` (hold the lock)."""

    loc: Location
    txid: str = field(default_factory=lambda: uuid.uuid4().hex)
    entries: list[dict[str, object]] = field(default_factory=list)

    def stage(
        self, dataset: str, part: str, keep: list[str], new: dict[str, pa.Table]
    ) -> list[str]:
        """Partition `dataset/part` becomes its files named in `keep` plus the `new` tables.

        Returns the paths the new files will have once committed.
        """
        live_rel = f"{dataset}/{part}"
        finals = [self.loc.path(dataset, part, name) for name in new]
        if self.loc.local is None:  # object store: objects appear whole; no staging needed
            self.entries.append({"live": live_rel, "new": new, "keep": keep})
            return finals
        root = self.loc.local
        staged_rel = f"{STAGING}/{self.txid}/{len(self.entries)}/{dataset}/{part}"
        staged = root / staged_rel
        staged.mkdir(parents=True)
        (staged / _marker(self.txid)).touch()
        live = root / live_rel
        for name in keep:
            os.link(live / name, staged / (name + STAGED))
        for name, table in new.items():
            path = staged / (name + STAGED)
            write_parquet(table, str(path), self.loc.fs)
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        self.entries.append(
            {"live": live_rel, "staged": staged_rel, "txid": self.txid, "names": [*keep, *new]}
        )
        return finals

    def commit(self) -> None:
        if not self.entries:
            return
        if self.loc.local is None:
            self._commit_remote()
            return
        root = self.loc.local
        jdir = root / JOURNAL
        jdir.mkdir(exist_ok=True)
        tmp = jdir / f"{self.txid}.pending"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"entries": self.entries}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        journal = jdir / f"{self.txid}.json"
        os.rename(tmp, journal)  # the commit point
        _fsync_dir(jdir)
        for entry in self.entries:
            _apply(root, entry)
        journal.unlink()
        _retire(root, self.txid)
        self.entries = []

    def _commit_remote(self) -> None:
        for entry in self.entries:
            live = self.loc.path(str(entry["live"]))
            self.loc.fs.create_dir(live, recursive=True)
            existing = [i.base_name for i in self._files(live)]
            new = cast(dict[str, pa.Table], entry["new"])
            for name, table in new.items():
                write_parquet(table, f"{live}/{name}", self.loc.fs)
            keep = set(cast(list[str], entry["keep"])) | set(new)
            for name in existing:
                if name not in keep:
                    self.loc.fs.delete_file(f"{live}/{name}")
        self.entries = []

    def _files(self, path: str) -> list[pafs.FileInfo]:
        try:
            infos = self.loc.fs.get_file_info(pafs.FileSelector(path))
        except FileNotFoundError:
            return []
        return [i for i in infos if i.base_name.endswith(".parquet")]
