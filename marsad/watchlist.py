"""The watchlist: entities of interest declared as data, validated strictly.

A watchlist is what analysts count by, so a typo (an unknown key, a Latin alias in the
Arabic list, one alias claimed by two entities) must fail at load time with the file, the
entry and the key named, never link mentions to the wrong id in silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from marsad.text.arabic import normalise, tokenize
from marsad.yamlfile import describe, load_mapping, read_text

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
    # Optional, for places (marsad.places): they win over the gazetteer's answer.
    country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code of a place."
    )
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude (WGS84).")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude (WGS84).")

    @model_validator(mode="after")
    def _coords(self) -> WatchEntry:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        if self.lat is not None and self.country is None:
            raise ValueError("coordinates need a country")
        return self

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


def parse_watchlist(text: str, path: str = "<watchlist>") -> Watchlist:
    raw = load_mapping(text, path, "entities", WatchlistError)
    try:
        parsed = WatchlistFile.model_validate(raw)
    except ValidationError as exc:
        lines = [describe(path, raw, e, "entities", "entity", "id") for e in exc.errors()]
        raise WatchlistError("\n".join(lines)) from None
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
    return parse_watchlist(read_text(p, "watchlist", WatchlistError), str(p))
