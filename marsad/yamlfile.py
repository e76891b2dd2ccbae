"""Reading the user's YAML files (sources, watchlist, settings) with errors that point at the
mistake.

The sources and watchlist files are lists of entries validated by pydantic; the settings file
is one flat mapping. An operator needs the file, the entry (its number and name), the key and,
where it helps, the line in the message, not a pydantic traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

MAX_DEPTH = (
    32  # a config file nests 3 or 4 levels; 100k `[` must not reach Python's recursion limit
)


class DuplicateKey(yaml.YAMLError):
    """A mapping gives one key twice (plain YAML keeps the last value in silence)."""

    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(f"key {key!r} given twice (lines {first} and {line})")
        self.key, self.line, self.first = key, line, first


class TooDeep(yaml.YAMLError):
    """Nesting past MAX_DEPTH: the composer would recurse into a RecursionError."""

    def __init__(self, line: int) -> None:
        super().__init__(f"nested deeper than {MAX_DEPTH} levels (line {line})")
        self.line = line


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (at any depth) and nesting past MAX_DEPTH."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise TooDeep(event.start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], int] = {}
        for key, _value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            line = key.start_mark.line + 1
            ident = (key.tag, str(key.value))
            if ident in seen:
                raise DuplicateKey(ident[1], line, seen[ident])
            seen[ident] = line
        return node


def read_text(path: Path, what: str, error: type[Exception]) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from exc


def load_mapping(
    text: str,
    path: str,
    list_key: str | None,
    error: type[Exception],
    *,
    expected: str | None = None,
    empty_ok: bool = False,
) -> dict[str, Any]:
    """The file's top-level mapping; `expected` describes it in the error (default: a mapping
    with a `list_key` list); `empty_ok` reads an empty file (or only comments) as {}."""
    try:
        raw = yaml.load(text, Loader=StrictLoader)  # a SafeLoader
    except DuplicateKey as exc:
        raise error(
            f"{path}:{exc.line}: key {exc.key!r}: given twice (first on line {exc.first})"
        ) from None
    except TooDeep as exc:
        raise error(f"{path}:{exc.line}: nested deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    if raw is None and empty_ok:
        return {}
    if not isinstance(raw, dict):
        if expected is None:
            name = list_key or "entries"
            article = "an" if name[0] in "aeiou" else "a"
            expected = f"a mapping with {article} {name!r} list"
        raise error(f"{path}: expected {expected}")
    return raw


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree of `text` (positions kept), or None when it does not parse."""
    try:
        return yaml.compose(text, Loader=StrictLoader)
    except yaml.YAMLError:
        return None


def line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """1-based line of the item at `loc` (mapping keys, list indexes) in a composed tree.

    A mapping key gives the line of the key; a path that stops existing part-way gives the
    line of its deepest existing part; None when not even the first part exists.
    """
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if _scalar(kv[0]) == str(part)), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _scalar(node: yaml.Node) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def describe(
    path: str,
    raw: Any,
    err: Mapping[str, Any],
    list_key: str | None = None,
    item: str = "entry",
    name_key: str = "name",
    line: int | None = None,
) -> str:
    """One pydantic error as 'FILE[:LINE]: ITEM #n ('name'): key 'k': message'.

    The ITEM part is there for files that are a list under `list_key`; `err` is one entry of
    `ValidationError.errors()`.
    """
    loc = list(err.get("loc", ()))
    where = path if line is None else f"{path}:{line}"
    if list_key is not None and len(loc) >= 2 and loc[0] == list_key and isinstance(loc[1], int):
        name = None
        with contextlib.suppress(KeyError, IndexError, TypeError, AttributeError):
            name = raw[list_key][loc[1]].get(name_key)
        where += f": {item} #{loc[1] + 1}" + (f" ({name!r})" if name else "")
        loc = loc[2:]
    key = ".".join(str(p) for p in loc)
    msg = "unknown key" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid")
    return f"{where}: key {key!r}: {msg}" if key else f"{where}: {msg}"
