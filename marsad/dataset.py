"""Where the datasets live: the one output resolver, listing, reading and Parquet writing.

The output is a directory (or URI) holding `articles/`, `mentions/`, `failures/` and
`stories/`, each hive-partitioned as `date=YYYY-MM-DD/part-<run>-<seq>.parquet`. How a writer
changes them safely (transactions, the lock, recovery) is `marsad.transaction`.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from marsad import __version__
from marsad.schema import SCHEMA_VERSION, SCHEMAS

DATASETS = ("articles", "mentions", "failures", "stories")
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

    @property
    def key(self) -> str:
        """What makes two spellings of an output the same output (the writer cache, the work
        folder). pyarrow's own filesystems go by class, as before; fsspec ones, all wrapped
        in a PyFileSystem, by their protocol (`py::fsspec+memory`)."""
        kind = type(self.fs).__name__
        if isinstance(self.fs, pafs.PyFileSystem):
            kind = self.fs.type_name
        return f"{kind}:{self.root}"


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
            with loc.fs.open_input_file(info.path) as fh:  # one open: footer, then columns
                pf = pq.ParquetFile(fh)
                present = set(pf.schema_arrow.names)
                table = pf.read(columns=[c for c in wanted.names if c in present])
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
    return base / hashlib.sha256(loc.key.encode()).hexdigest()[:16]


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
    per_row = max(1, int(table.nbytes) // int(table.num_rows))
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
