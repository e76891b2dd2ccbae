"""The sources file: publishers declared as data, validated strictly.

A typo in a scheduled run's config must fail loudly at load time, naming the
file, the source and the key, instead of silently monitoring nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from marsad.yamlfile import describe, load_mapping, read_text

NAME_RE = re.compile(r"^[a-z0-9-]+$")
DOMAIN_RE = re.compile(
    r"(?i)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


class SourcesError(ValueError):
    """A sources file that cannot be used; the message is meant for the operator."""


def _check_http_url(value: str) -> str:
    """An http(s) URL with a host and, if given, a port in 1-65535; checked at load time, so a
    typo fails the config instead of every fetch of it."""
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError past 65535 or when not a number
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {value!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {value!r}")
    if port == 0:
        raise ValueError(f"port 0 in {value!r}")
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
    domains: list[str] = Field(
        default_factory=list,
        description="More hosts of this source (example.org covers its subdomains), for "
        "`marsad ingest`; the hosts of feeds, sitemaps, homepage and urls count already.",
    )

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

    @field_validator("domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        for d in v:
            if not DOMAIN_RE.fullmatch(d):
                raise ValueError(f"must be a host name such as 'example.org', got {d!r}")
        return [d.lower().removeprefix("www.") for d in v]

    def hosts(self) -> set[str]:
        """The hosts this source's pages live on (without www.): its URLs' and `domains`."""
        urls = [
            *self.feeds,
            *self.sitemaps,
            *self.urls,
            *([self.homepage] if self.homepage else []),
        ]
        found = {(urlsplit(u).hostname or "").removeprefix("www.") for u in urls if u}
        return (found | set(self.domains)) - {""}

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z]{2}", v):
            raise ValueError(f"must be an ISO 639-1 code such as 'ar', got {v!r}")
        return v


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[Source]


def parse_sources(text: str, path: str = "<sources>") -> list[Source]:
    raw = load_mapping(text, path, "sources", SourcesError)
    try:
        parsed = SourcesFile.model_validate(raw)
    except ValidationError as exc:
        lines = [describe(path, raw, e, "sources", "source", "name") for e in exc.errors()]
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
    return parse_sources(read_text(p, "sources", SourcesError), str(p))
