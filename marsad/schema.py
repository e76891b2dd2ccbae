"""The Parquet schemas, defined once; docs/schema.md documents every column."""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "6"
"""1: the walking skeleton. 2: `dup_group` added to articles; the mentions dataset.
3: `kind` added to failures. 4: `name` and `name_en`, then `country`, `lat` and `lon`, added to
mentions and entities. 5: `story_id` added to articles; the stories dataset. 6: `title` added
to mentions and entities."""

NAME_DESC = (
    "Display name, nothing folded: the watchlist entity's Arabic name when linked, else the "
    "surface form without proclitics; null in files before version 4."
)
NAME_EN_DESC = "The watchlist entity's `name` when linked, else null (and in files before 4)."
COUNTRY_DESC = (
    "ISO 3166-1 alpha-2 country of a LOC mention that resolves (watchlist, else the GeoNames "
    "gazetteer); null otherwise and in files before version 4."
)
LAT_DESC = "Latitude (WGS84) of a LOC mention resolved to a city; null for a country."
LON_DESC = "Longitude (WGS84) of a LOC mention resolved to a city; null for a country."
TITLE_DESC = (
    "A PERS mention's titles and offices said just before the name, as written (ولي العهد "
    "الأمير before محمد بن نايف); null when none, for other labels and in files before 6."
)

ENTITY_TYPE = pa.struct(
    [
        pa.field("text", pa.string(), metadata={"description": "Surface form, as in `text`."}),
        pa.field("norm", pa.string(), metadata={"description": "Normalised form, for matching."}),
        pa.field("label", pa.string(), metadata={"description": "PERS, LOC, ORG or MISC."}),
        pa.field("start", pa.int32(), metadata={"description": "Start offset into `text`."}),
        pa.field("end", pa.int32(), metadata={"description": "End offset (exclusive)."}),
        pa.field("entity_id", pa.string(), metadata={"description": "Watchlist id, if linked."}),
        pa.field("name", pa.string(), metadata={"description": NAME_DESC}),
        pa.field("name_en", pa.string(), metadata={"description": NAME_EN_DESC}),
        pa.field("country", pa.string(), metadata={"description": COUNTRY_DESC}),
        pa.field("lat", pa.float64(), metadata={"description": LAT_DESC}),
        pa.field("lon", pa.float64(), metadata={"description": LON_DESC}),
        pa.field("title", pa.string(), metadata={"description": TITLE_DESC}),
    ]
)

TS = pa.timestamp("us", tz="UTC")


def _f(name: str, typ: pa.DataType, desc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, typ, nullable=nullable, metadata={"description": desc})


ARTICLES = pa.schema(
    [
        _f("article_id", pa.string(), "Stable hash of the canonical URL (SHA-256, 32 hex).", False),
        _f("url", pa.string(), "URL as discovered (feed link or listed URL).", False),
        _f("canonical_url", pa.string(), "Canonical URL: the page's own, else the fetched one."),
        _f("source", pa.string(), "Source name from the sources file.", False),
        _f("title", pa.string(), "Headline."),
        _f("author", pa.string(), "Byline, when the page gives one."),
        _f("published_at", TS, "Publication time, UTC; null when unknown."),
        _f("fetched_at", TS, "When marsad fetched the page, UTC.", False),
        _f("language", pa.string(), "ISO 639-1 code detected from the text."),
        _f("text", pa.string(), "Main text after boilerplate removal, original characters."),
        _f("text_norm", pa.string(), "Normalised text (diacritics, tatweel, alef forms folded)."),
        _f("entities", pa.list_(ENTITY_TYPE), "Entity mentions with offsets into `text`."),
        _f("run_id", pa.string(), "Id of the run that wrote the row.", False),
        _f(
            "dup_group",
            pa.string(),
            "Near-duplicate group: the article_id of the first stored copy of this story "
            "(same normalised title or MinHash-similar text, across sources); null in v1 files "
            "until `marsad compact` rewrites them (then the row's own article_id).",
        ),
        _f(
            "story_id",
            pa.string(),
            "Story (one real-world event across outlets and days): a `stories.story_id`, kept "
            "once written; follow that row's `merged_into` to the surviving story. Null in "
            "files before version 5.",
        ),
    ]
)

MENTIONS = pa.schema(
    [
        _f("article_id", pa.string(), "Article holding the mention (articles.article_id).", False),
        _f("source", pa.string(), "Source name of the article.", False),
        _f("published_at", TS, "Publication time of the article, UTC; null when unknown."),
        _f("text", pa.string(), "Surface form, as in the article's `text`.", False),
        _f("norm", pa.string(), "Normalised form, for matching and counting.", False),
        _f("label", pa.string(), "PERS, LOC, ORG or MISC.", False),
        _f("entity_id", pa.string(), "Watchlist entity id when linked, else null."),
        _f("start", pa.int32(), "Start offset into the article's `text`.", False),
        _f("end", pa.int32(), "End offset into the article's `text` (exclusive).", False),
        _f("name", pa.string(), NAME_DESC),
        _f("name_en", pa.string(), NAME_EN_DESC),
        _f("country", pa.string(), COUNTRY_DESC),
        _f("lat", pa.float64(), LAT_DESC),
        _f("lon", pa.float64(), LON_DESC),
        _f("title", pa.string(), TITLE_DESC),
    ]
)

FAILURES = pa.schema(
    [
        _f("url", pa.string(), "URL that did not become an article.", False),
        _f("source", pa.string(), "Source name.", False),
        _f("stage", pa.string(), "fetch, extract, normalise, tag or store.", False),
        _f("error", pa.string(), "Readable reason, e.g. 'HTTP 404'.", False),
        _f("attempts", pa.int32(), "Attempts made in this run.", False),
        _f("run_id", pa.string(), "Id of the run.", False),
        _f("at", TS, "When the failure was recorded, UTC.", False),
        _f(
            "kind",
            pa.string(),
            "What the URL was: article, feed, sitemap, homepage or robots; null in files "
            "before version 3, where a discovery failure's `error` starts with `feed:`, "
            "`sitemap:` or `homepage:`.",
        ),
    ]
)

STORY_ENTITY = pa.struct(
    [
        pa.field("key", pa.string(), metadata={"description": "entity_id, else `LABEL:norm`."}),
        pa.field("name", pa.string(), metadata={"description": "Display name, as first seen."}),
        pa.field("label", pa.string(), metadata={"description": "PERS, LOC, ORG or MISC."}),
        pa.field("entity_id", pa.string(), metadata={"description": "Watchlist id, if linked."}),
        pa.field("count", pa.int32(), metadata={"description": "Articles naming it."}),
    ]
)

STORIES = pa.schema(
    [
        _f(
            "story_id",
            pa.string(),
            "The article_id of the article that opened the story; the row lives in that "
            "article's date partition for good.",
            False,
        ),
        _f("title", pa.string(), "Representative headline: its earliest article's."),
        _f("first_seen", TS, "Earliest `published_at` (else `fetched_at`) of its articles.", False),
        _f("last_seen", TS, "Latest `published_at` (else `fetched_at`) of its articles.", False),
        _f("n_articles", pa.int32(), "Articles in the story, merged stories included.", False),
        _f("n_sources", pa.int32(), "Distinct sources (outlets) among them.", False),
        _f("sources", pa.list_(pa.string()), "Those sources, sorted.", False),
        _f(
            "entities",
            pa.list_(STORY_ENTITY),
            "Top entities by articles naming them (at most 10; counts of entities that left "
            "the top 10 restart when they return).",
        ),
        _f(
            "merged_into",
            pa.string(),
            "Null while the story stands; else the story that absorbed it (follow the chain).",
        ),
        _f("updated_at", TS, "When the row was last rewritten, UTC.", False),
    ]
)

SCHEMAS = {"articles": ARTICLES, "mentions": MENTIONS, "failures": FAILURES, "stories": STORIES}
SORT_KEYS = {"articles": "published_at", "mentions": "published_at", "failures": "at"}
SORT_KEYS["stories"] = "first_seen"


def type_name(t: pa.DataType) -> str:
    """A column's type as docs/schema.md writes it."""
    if pa.types.is_list(t):
        return f"list<{type_name(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ", ".join(f.name for f in t) + ">"
    return str(t)


def description(f: pa.Field) -> str:
    meta: dict[bytes, bytes] = f.metadata or {}
    return meta.get(b"description", b"").decode()
