"""The typed records that flow through every stage.

One `Article` is created by the fetch stage and enriched in place by extract,
normalise and tag; anything that cannot become an article becomes a `Failure`.
Keeping one record (instead of a dict per stage) is what lets the store stage
write a schema that is defined once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

STAGES = ("fetch", "extract", "normalise", "tag", "store")

FailureKind = Literal["article", "feed", "sitemap", "homepage", "robots"]
"""What a failure's URL was: an article page, or a feed, sitemap or homepage being discovered.

"robots" is reserved for a failure whose URL is a robots.txt itself. No stage records one
today: an unreadable robots.txt fails the URL it guards (an article, feed, sitemap or
homepage), and that failure keeps the kind of that URL.
"""
KINDS: tuple[FailureKind, ...] = get_args(FailureKind)


@dataclass(slots=True)
class FeedItem:
    """A URL discovered in a feed (or listed directly), with what the feed said of it."""

    url: str
    source: str
    feed_title: str | None = None
    feed_published_at: datetime | None = None
    language_hint: str | None = None


@dataclass(slots=True)
class Entity:
    text: str
    norm: str
    label: str  # PERS, LOC, ORG or MISC
    start: int  # offsets into Article.text
    end: int
    entity_id: str | None = None
    # Last, with defaults, so positional constructors keep working: the display forms.
    name: str | None = None  # the watchlist's Arabic name, else the surface without proclitics
    name_en: str | None = None  # the watchlist entry's `name`, when linked
    # A LOC mention's place when it resolves (marsad.places); a country has no coordinates.
    country: str | None = None  # ISO 3166-1 alpha-2
    lat: float | None = None
    lon: float | None = None
    # A PERS mention's honorifics and offices cut off before the name (ولي العهد الأمير before
    # محمد بن نايف), as written in Article.text; None when there are none and for other labels.
    title: str | None = None


@dataclass(slots=True)
class Article:
    url: str
    source: str
    fetched_at: datetime
    html: str | None = None  # dropped after extraction, so batches stay small
    final_url: str | None = None
    canonical_url: str | None = None
    article_id: str | None = None
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    text: str | None = None
    text_norm: str | None = None
    entities: list[Entity] = field(default_factory=list)
    feed: FeedItem | None = None
    attempts: int = 1
    run_id: str = ""
    dup_group: str | None = None  # set by the store stage (marsad.dedup)


@dataclass(slots=True)
class Failure:
    url: str
    source: str
    stage: str
    error: str
    attempts: int
    run_id: str
    at: datetime
    kind: FailureKind = "article"  # last, so positional constructors keep working

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown failure kind {self.kind!r}")
