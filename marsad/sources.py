"""The sources file: publishers declared as data, validated strictly.

A typo in a scheduled run's config must fail loudly at load time, naming the
file, the source and the key, instead of silently monitoring nothing.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

NAME_RE = re.compile(r"^[a-z0-9-]+$")


class SourcesError(ValueError):
    """A sources file that cannot be used; the message is meant for the operator."""


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Identifier, [a-z0-9-]+, unique in the file.")
    feeds: list[str] = Field(default_factory=list, description="RSS or Atom feed URLs.")
    urls: list[str] = Field(default_factory=list, description="Article URLs to fetch directly.")
    sitemaps: list[str] = Field(default_factory=list, description="XML sitemap URLs.")
    homepage: str | None = Field(default=None, description="Homepage, for feed discovery.")
    language: str = Field(default="ar", description="Expected language (ISO 639-1), a hint.")
    group: str = Field(default="default", description="Schedule group, e.g. wires or daily.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(f"must match [a-z0-9-]+, got {v!r}")
        return v

    @field_validator("feeds", "urls", "sitemaps")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        return [_check_http_url(u) for u in v]

    @field_validator("homepage")
    @classmethod
    def _homepage(cls, v: str | None) -> str | None:
        return None if v is None else _check_http_url(v)

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z]{2}", v):
            raise ValueError(f"must be an ISO 639-1 code such as 'ar', got {v!r}")
        return v


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[Source]


def _describe(path: str, raw: Any, err: dict[str, Any]) -> str:
    loc = list(err.get("loc", ()))
    where = f"{path}"
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        idx = loc[1]
        name = None
        with contextlib.suppress(KeyError, IndexError, TypeError, AttributeError):
            name = raw["sources"][idx].get("name")
        where += f": source #{idx + 1}" + (f" ({name!r})" if name else "")
        loc = loc[2:]
    else:
        loc = loc if loc else []
    key = ".".join(str(p) for p in loc)
    msg = err.get("msg", "invalid")
    if err.get("type") == "extra_forbidden":
        msg = "unknown key"
    return f"{where}: key {key!r}: {msg}" if key else f"{where}: {msg}"


def parse_sources(text: str, path: str = "<sources>") -> list[Source]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourcesError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SourcesError(f"{path}: expected a mapping with a 'sources' list")
    try:
        parsed = SourcesFile.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe(path, raw, e) for e in exc.errors()]
        raise SourcesError("\n".join(lines)) from None
    seen: set[str] = set()
    for src in parsed.sources:
        if src.name in seen:
            raise SourcesError(f"{path}: source {src.name!r}: key 'name': duplicate name")
        seen.add(src.name)
        if not (src.feeds or src.urls or src.sitemaps or src.homepage):
            raise SourcesError(
                f"{path}: source {src.name!r}: nothing to fetch "
                "(give at least one of feeds, urls, sitemaps, homepage)"
            )
    if not parsed.sources:
        raise SourcesError(f"{path}: 'sources' is empty")
    return list(parsed.sources)


def load_sources(path: str | Path) -> list[Source]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourcesError(f"{p}: no such sources file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesError(f"{p}: cannot read: {exc}") from exc
    return parse_sources(text, str(p))
