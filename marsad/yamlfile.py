"""Reading the user's YAML files (sources, watchlist) with errors that point at the mistake.

Both files are lists of entries validated by pydantic; an operator needs the file, the entry
(its number and name) and the key in the message, not a pydantic traceback.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import yaml


def read_text(path: Path, what: str, error: type[Exception]) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from exc


def load_mapping(text: str, path: str, list_key: str, error: type[Exception]) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        article = "an" if list_key[0] in "aeiou" else "a"
        raise error(f"{path}: expected a mapping with {article} {list_key!r} list")
    return raw


def describe(
    path: str, raw: Any, err: dict[str, Any], list_key: str, item: str, name_key: str
) -> str:
    """One pydantic error as 'FILE: ITEM #n ('name'): key 'k': message'."""
    loc = list(err.get("loc", ()))
    where = path
    if len(loc) >= 2 and loc[0] == list_key and isinstance(loc[1], int):
        name = None
        with contextlib.suppress(KeyError, IndexError, TypeError, AttributeError):
            name = raw[list_key][loc[1]].get(name_key)
        where += f": {item} #{loc[1] + 1}" + (f" ({name!r})" if name else "")
        loc = loc[2:]
    key = ".".join(str(p) for p in loc)
    msg = "unknown key" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid")
    return f"{where}: key {key!r}: {msg}" if key else f"{where}: {msg}"
