"""`--out` checked before anything starts.

A file, a read-only filesystem or a typo in `--out` used to surface as a traceback after
Prefect had started (or, for `compact`, as a new empty folder and exit 0). The argparse
`type=` functions here refuse such a value at parse time, without creating anything; the
stage functions call the same checks for callers that skip the CLI (a flow run from the UI).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyarrow is imported when needed: the CLI parses --out with these
    from marsad.dataset import Location

DATASETS = ("articles", "mentions", "failures")  # marsad.dataset.DATASETS
# Besides its datasets, a marsad output holds the writer's lock and the fetch state.
LOCK_FILE = "_marsad.lock"  # marsad.transaction.LOCK_FILE
STATE_FILE = "state/fetch.sqlite"  # marsad.state.state_path
MARKERS = (*DATASETS, LOCK_FILE, STATE_FILE)


class OutputError(ValueError):
    """An output location marsad cannot use; the message is meant for the operator."""


def _local(value: str) -> Path | None:
    """The folder a value names on this machine; None for an object-store URI."""
    if "://" not in value:
        return Path(value)
    if value.startswith("file://"):
        from marsad.dataset import resolve

        return resolve(value).local
    return None


def check_writable(path: Path) -> None:
    """`path` is a writable folder, or could be created as one (nothing is created here)."""
    probe = path.absolute()
    try:
        while not probe.exists():
            probe = probe.parent
        is_dir = probe.is_dir()
    except OSError as exc:
        raise OutputError(f"{path}: cannot check: {exc.strerror or exc}") from None
    if not is_dir:
        if probe == path.absolute():
            raise OutputError(f"{path}: exists and is not a directory")
        raise OutputError(f"{path}: cannot be created: {probe} is not a directory")
    if _read_only(probe):
        raise OutputError(f"{path}: {probe} is on a read-only filesystem")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: {probe} is not writable")


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def is_marsad_output(loc: Location) -> bool:
    """True when `loc` holds anything a marsad run writes (or its work folder does)."""
    import pyarrow.fs as pafs

    from marsad.dataset import workdir

    if loc.local is not None:
        return any((loc.local / m).exists() for m in MARKERS)
    if (workdir(loc) / STATE_FILE).exists():
        return True
    infos = loc.fs.get_file_info([loc.path(d) for d in DATASETS])
    return any(i.type == pafs.FileType.Directory for i in infos)


def require_marsad_output(out: str | os.PathLike[str] | Location) -> Location:
    """The output, when it exists and is a marsad output (`compact` must not create one)."""
    from marsad.dataset import Location, resolve

    loc = resolve(out)
    where = os.fspath(out) if not isinstance(out, Location) else loc.root
    if loc.local is not None and not loc.local.is_dir():
        state = "is not a directory" if loc.local.exists() else "no such directory"
        raise OutputError(f"{where}: {state}")
    if not is_marsad_output(loc):
        found = ", ".join(f"{m}/" for m in DATASETS)
        raise OutputError(f"{where}: not a marsad output (no {found} or fetch state)")
    return loc


def writable_out(value: str) -> str:
    """argparse type for `--out` of run, serve and demo: a writable (or creatable) folder,
    or an object-store URI (checked when first written: that needs the network)."""
    local = _local(value)
    if local is not None:
        try:
            check_writable(local)
        except OutputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def writable_dir(value: str) -> Path:
    """argparse type for a local output folder (`ner train --out`)."""
    try:
        check_writable(Path(value))
    except OutputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return Path(value)


def existing_out(value: str) -> str:
    """argparse type for `compact --out`: an existing marsad output, local or URI."""
    try:
        require_marsad_output(value)
    except (ValueError, OSError) as exc:  # ValueError: ours, or no filesystem for a URI
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value
