"""The watchlist: entities of interest declared as data, validated strictly.

A watchlist is what analysts count by, so a typo (an unknown key, a Latin alias in the
Arabic list, one alias claimed by two entities) must fail at load time with the file, the
entry and the key named, never link mentions to the wrong id in silence.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from marsad.tasks.normalise import normalise, tokenize

ID_RE = re.compile(r"^(Q[1-9][0-9]*|[a-z0-9]+(-[a-z0-9]+)*)$")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a\u0671-\u06d3\u06fa-\u06ff\ufb50-\ufdff\ufe70-\ufefc]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")

Key = tuple[str, ...]


class WatchlistError(ValueError):
    """A watchlist that cannot be used; the message is meant for the operator."""


def _aliases(
    v: list[str], script: str, letters: re.Pattern[str], other: re.Pattern[str]
) -> list[str]:
    for alias in v:
        if not alias.strip():
            raise ValueError("empty alias")
        if not letters.search(alias) or other.search(alias):
            raise ValueError(f"{alias!r} is not written in {script} script")
    return v


class WatchEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Wikidata Q-id, or a slug [a-z0-9-]+; unique in the file.")
    type: Literal["PERS", "LOC", "ORG", "MISC"]
    name: str = Field(min_length=1, description="Display name.")
    ar: list[str] = Field(default_factory=list, description="Arabic-script aliases.")
    latin: list[str] = Field(default_factory=list, description="Latin-script aliases.")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(f"must be a Wikidata id such as Q7184 or a slug [a-z0-9-]+, got {v!r}")
        return v

    @field_validator("ar")
    @classmethod
    def _ar(cls, v: list[str]) -> list[str]:
        return _aliases(v, "Arabic", _ARABIC_LETTER, _LATIN_LETTER)

    @field_validator("latin")
    @classmethod
    def _latin(cls, v: list[str]) -> list[str]:
        return _aliases(v, "Latin", _LATIN_LETTER, _ARABIC_LETTER)


class WatchlistFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    entities: list[WatchEntry]


def alias_keys(alias: str, script: str) -> list[Key]:
    """Token sequences an alias matches: Arabic folded aggressively; Latin as written or in caps."""
    keys = [tuple(t.text for t in tokenize(normalise(alias, "aggressive").text))]
    if script == "latin" and alias.upper() != alias:
        keys.append(tuple(t.text for t in tokenize(normalise(alias.upper(), "aggressive").text)))
    return keys


@dataclass(frozen=True, slots=True)
class Watchlist:
    path: str
    entries: tuple[WatchEntry, ...]
    keys: dict[Key, WatchEntry]  # every alias key to the one entry that owns it

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, entity_id: str) -> WatchEntry | None:
        return next((e for e in self.entries if e.id == entity_id), None)


def _describe(path: str, raw: Any, err: dict[str, Any]) -> str:
    loc = list(err.get("loc", ()))
    where = path
    if len(loc) >= 2 and loc[0] == "entities" and isinstance(loc[1], int):
        ident = None
        with contextlib.suppress(KeyError, IndexError, TypeError, AttributeError):
            ident = raw["entities"][loc[1]].get("id")
        where += f": entity #{loc[1] + 1}" + (f" ({ident!r})" if ident else "")
        loc = loc[2:]
    key = ".".join(str(p) for p in loc)
    msg = "unknown key" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid")
    return f"{where}: key {key!r}: {msg}" if key else f"{where}: {msg}"


def parse_watchlist(text: str, path: str = "<watchlist>") -> Watchlist:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WatchlistError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise WatchlistError(f"{path}: expected a mapping with an 'entities' list")
    try:
        parsed = WatchlistFile.model_validate(raw)
    except ValidationError as exc:
        raise WatchlistError("\n".join(_describe(path, raw, e) for e in exc.errors())) from None
    if not parsed.entities:
        raise WatchlistError(f"{path}: 'entities' is empty")
    keys: dict[Key, WatchEntry] = {}
    ids: set[str] = set()
    for n, entry in enumerate(parsed.entities, 1):
        where = f"{path}: entity #{n} ({entry.id!r})"
        if entry.id in ids:
            raise WatchlistError(f"{where}: key 'id': duplicate id")
        ids.add(entry.id)
        if not (entry.ar or entry.latin):
            raise WatchlistError(f"{where}: no alias (give at least one of ar, latin)")
        for script in ("ar", "latin"):
            for i, alias in enumerate(getattr(entry, script)):
                for key in alias_keys(alias, script):
                    if not key or len("".join(key)) < 2:
                        raise WatchlistError(
                            f"{where}: key '{script}.{i}': alias {alias!r} is too short"
                        )
                    owner = keys.setdefault(key, entry)
                    if owner.id != entry.id:
                        raise WatchlistError(
                            f"{where}: key '{script}.{i}': alias {alias!r} is already an alias "
                            f"of {owner.id!r} (after normalisation: {' '.join(key)!r})"
                        )
    return Watchlist(path, tuple(parsed.entities), keys)


def default_watchlist_path() -> str:
    """The shipped seeds/watchlist.yaml, wherever the package is installed."""
    return str(files("marsad.seeds").joinpath("watchlist.yaml"))


@cache
def load_watchlist(path: str | None = None) -> Watchlist:
    """Read and validate a watchlist (the shipped one for None), once per process and path."""
    p = Path(path or default_watchlist_path())
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WatchlistError(f"{p}: no such watchlist file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WatchlistError(f"{p}: cannot read: {exc}") from exc
    return parse_watchlist(text, str(p))
