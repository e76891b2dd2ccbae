"""Where the datasets live and how a writer changes them safely.

The output is a directory (or URI) holding `articles/`, `mentions/` and `failures/`, each
hive-partitioned as `date=YYYY-MM-DD/part-<run>-<seq>.parquet`. On a local filesystem every
change goes through a `Transaction`, under an fcntl lock held by one writer at a time:

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
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from marsad import __version__
from marsad.schema import SCHEMA_VERSION, SCHEMAS

DATASETS = ("articles", "mentions", "failures")
LOCK_FILE = "_marsad.lock"
STAGING = "_staging"
# Swapped-out partitions wait here before deletion: a reader that listed the old directory
# just before a swap can still open its files. Removed by the first writer after the grace.
RETIRED = "_retired"
RETIRE_GRACE_S = 30.0
JOURNAL = "_journal"
STAGED = ".staged"  # suffix of files in the staging area until their partition is swapped in
PART_RE = re.compile(r"^date=\d{4}-\d{2}-\d{2}$")
VERSION = __version__.encode()
ROW_GROUP_BYTES = 64 * 1024 * 1024  # uncompressed bytes per row group: big enough for scans


@dataclass(frozen=True, slots=True)
class Location:
    """The output root: a pyarrow filesystem and a path in it; `local` when it is on disk."""

    fs: pafs.FileSystem
    root: str
    local: Path | None

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])


def resolve(out: str | os.PathLike[str] | Location) -> Location:
    """The one way to the output: a path, or a URI that pyarrow.fs understands (file://, s3://,
    gs://, hdfs://) or, failing that, fsspec (memory://, abfs://, any installed protocol).

    Every reader and writer of the datasets starts here, so `file:///srv/marsad` and
    `/srv/marsad` are the same output everywhere.
    """
    if isinstance(out, Location):
        return out
    text = os.fspath(out)
    if "://" in text:
        try:
            fs, path = pafs.FileSystem.from_uri(text)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
            fs, path = _fsspec(text)
        if isinstance(fs, pafs.LocalFileSystem):
            return Location(fs, path, Path(path))
        return Location(fs, path.rstrip("/") or "/", None)
    local = Path(text).absolute()
    return Location(pafs.LocalFileSystem(), str(local), local)


def _fsspec(uri: str) -> tuple[pafs.FileSystem, str]:
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"{uri}: no filesystem for this URI ({exc})") from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), str(path)


def prepare_output(out: str | os.PathLike[str] | Location) -> Location:
    """The output, created if missing (a local folder, or the URI's root)."""
    loc = resolve(out)
    if loc.local is not None:
        loc.local.mkdir(parents=True, exist_ok=True)
    else:
        loc.fs.create_dir(loc.root, recursive=True)
    return loc


def read_dataset(
    out: str | os.PathLike[str] | Location,
    dataset: str,
    columns: list[str] | None = None,
    since: date | None = None,
) -> pa.Table:
    """A dataset's rows (partitions from `since` on), upgraded to the current schema, with the
    partition's `date` as a column, from any filesystem `resolve` understands."""
    loc = resolve(out)
    schema = SCHEMAS[dataset]
    wanted = pa.schema([schema.field(c) for c in columns]) if columns else schema
    tables = []
    for part, infos in list_partitions(loc, dataset).items():
        day = date.fromisoformat(part.removeprefix("date="))
        if since is not None and day < since:
            continue
        for info in infos:
            present = set(pq.read_schema(info.path, filesystem=loc.fs).names)
            table = read_file(loc, info.path, [c for c in wanted.names if c in present])
            table = conform(table, wanted)
            days = pa.array([day] * table.num_rows, pa.date32())
            tables.append(table.append_column("date", days))
    if not tables:
        return wanted.empty_table().append_column("date", pa.array([], pa.date32()))
    return pa.concat_tables(tables)


def workdir(out: str | os.PathLike[str] | Location) -> Path:
    """A local folder for what needs a disk (fetch state, WARC archive).

    The output folder itself when it is local; for an object-store URI, a folder keyed by
    the URI under $MARSAD_WORKDIR (default ~/.marsad/work), so each output keeps its own state.
    """
    loc = resolve(out)
    if loc.local is not None:
        return loc.local
    base = Path(os.environ.get("MARSAD_WORKDIR", Path.home() / ".marsad" / "work"))
    key = hashlib.sha256(f"{type(loc.fs).__name__}:{loc.root}".encode()).hexdigest()[:16]
    return base / key


def part_name(run_id: str, seq: int) -> str:
    return f"part-{run_id}-{seq:05d}.parquet"


def list_partitions(loc: Location, dataset: str) -> dict[str, list[pafs.FileInfo]]:
    """Partition directory name -> its Parquet files (sorted by name)."""
    base = loc.path(dataset)
    try:
        infos = loc.fs.get_file_info(pafs.FileSelector(base, recursive=True))
    except FileNotFoundError:
        return {}
    out: dict[str, list[pafs.FileInfo]] = {}
    prefix = base.rstrip("/") + "/"
    for info in infos:
        if info.type != pafs.FileType.File or not info.base_name.endswith(".parquet"):
            continue
        rel = info.path[len(prefix) :] if info.path.startswith(prefix) else info.path
        parts = rel.split("/")
        if len(parts) == 2 and PART_RE.match(parts[0]):
            out.setdefault(parts[0], []).append(info)
    for files in out.values():
        files.sort(key=lambda i: i.base_name)
    return dict(sorted(out.items()))


def read_file(loc: Location, path: str, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(path, filesystem=loc.fs, columns=columns, partitioning=None)


def read_rows(loc: Location, dataset: str, part: str, name: str) -> pa.Table:
    """One file of a dataset, upgraded to the current schema."""
    return conform(read_file(loc, loc.path(dataset, part, name)), SCHEMAS[dataset])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast a table read from any schema version to `schema`: missing columns become null."""
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(table.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def row_group_rows(table: pa.Table) -> int:
    """Rows per row group so that a group holds about ROW_GROUP_BYTES uncompressed."""
    if table.num_rows == 0:
        return 1
    per_row = max(1, table.nbytes // table.num_rows)
    return max(1024, ROW_GROUP_BYTES // per_row)


def write_parquet(table: pa.Table, sink: str, fs: pafs.FileSystem) -> None:
    """zstd, row groups sized for scans, versions in the key-value metadata."""
    meta = dict(table.schema.metadata or {})
    meta.update({b"marsad.schema_version": SCHEMA_VERSION.encode(), b"marsad.version": VERSION})
    pq.write_table(
        table.replace_schema_metadata(meta),
        sink,
        filesystem=fs,
        compression="zstd",
        row_group_size=row_group_rows(table),
        use_dictionary=True,
        write_statistics=True,
    )


# --- local writer machinery ---------------------------------------------------------------

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
    _remote_deletes: list[str] = field(default_factory=list)

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
            for name, table in entry["new"].items():  # type: ignore[union-attr]
                write_parquet(table, f"{live}/{name}", self.loc.fs)
            keep = set(entry["keep"]) | set(entry["new"])  # type: ignore[arg-type]
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
