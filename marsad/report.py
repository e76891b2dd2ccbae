"""`marsad report`'s numbers: what the analyst's report shows, as small polars tables.

Each function is pure over the datasets already read (and filtered to the report's days), so
the figures can be checked on hand-written rows. Names shown are the `name` column (nothing
folded); files before schema version 4 have none, and their surface `text` stands in. An
entity is counted by its watchlist id when linked, else by label and `norm`: `norm` groups
spellings, it is never shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from marsad import stories_view
from marsad.dataset import Location, list_partitions, read_dataset, resolve

TOP_PER_LABEL = 10  # rows of the top-entities table, per label
TOP_OVER_TIME = 6  # lines in the mentions-over-time chart
TOP_COUNTRIES = 20
TOP_DUP_GROUPS = 20
TOP_STORIES = 15
_ARTICLE_COLUMNS = ["article_id", "source", "title", "published_at", "dup_group"]
_ARTICLE_COLUMNS += ["fetched_at", "story_id"]
_STORY_COLUMNS = ["story_id", "title", "merged_into"]
_MENTION_COLUMNS = ["article_id", "source", "text", "norm", "label", "entity_id", "name"]
_MENTION_COLUMNS += ["name_en", "country", "title"]
_FAILURE_COLUMNS = ["source", "stage", "error", "kind"]


class ReportError(ValueError):
    """A report that cannot be made (bad range, no data); the message is for the operator."""


@dataclass(frozen=True, slots=True)
class Frames:
    """The report's rows: articles, mentions and failures whose partition `date` is in range,
    and every stories row (a story of these articles may have opened before the range)."""

    articles: pl.DataFrame
    mentions: pl.DataFrame
    failures: pl.DataFrame
    stories: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={c: pl.String for c in _STORY_COLUMNS})
    )

    @property
    def empty(self) -> bool:
        return self.articles.is_empty() and self.mentions.is_empty() and self.failures.is_empty()


def _read(loc: Location, dataset: str, columns: list[str], first: date, last: date) -> pl.DataFrame:
    table = read_dataset(loc, dataset, columns, since=first)
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    return df.filter(pl.col("date") <= last)


def load(out: str | os.PathLike[str] | Location, first: date, last: date) -> Frames:
    """The three datasets between two days (inclusive), any schema version."""
    loc = resolve(out)
    articles = _read(loc, "articles", _ARTICLE_COLUMNS, first, last)
    stories = pl.from_arrow(read_dataset(loc, "stories", _STORY_COLUMNS))  # after articles
    assert isinstance(stories, pl.DataFrame)
    return Frames(
        articles,
        _read(loc, "mentions", _MENTION_COLUMNS, first, last),
        _read(loc, "failures", _FAILURE_COLUMNS, first, last),
        stories.drop("date"),
    )


def stored_days(out: str | os.PathLike[str] | Location) -> tuple[date, date] | None:
    """The first and last partition day of any dataset; None when nothing is stored."""
    loc = resolve(out)
    days = [
        date.fromisoformat(part.removeprefix("date="))
        for dataset in ("articles", "mentions", "failures")
        for part in list_partitions(loc, dataset)
    ]
    return (min(days), max(days)) if days else None


def _keyed(mentions: pl.DataFrame) -> pl.DataFrame:
    """Mentions with `key` (what is counted) and `shown` (the name, else the surface text)."""
    key = (
        pl.when(pl.col("entity_id").is_not_null())
        .then(pl.lit("id:") + pl.col("entity_id"))
        .otherwise(pl.col("label") + pl.lit(":") + pl.col("norm"))
    )
    return mentions.with_columns(
        key=key, shown=pl.coalesce(pl.col("name"), pl.col("text")).str.strip_chars()
    )


def _names(keyed: pl.DataFrame) -> pl.DataFrame:
    """Per key, its most frequent display name (ties: the alphabetically first)."""
    counts = keyed.group_by("key", "shown").len()
    ordered = counts.sort(["key", "len", "shown"], descending=[False, True, False])
    return ordered.group_by("key", maintain_order=True).first().select("key", name="shown")


def _titles(keyed: pl.DataFrame) -> pl.DataFrame:
    """Per key, the title its mentions most often carry (ties: the alphabetically first):
    who a name is (وزير الخارجية) is what a reader of the table asks next."""
    if "title" not in keyed.columns:  # rows from before schema version 6
        return pl.DataFrame(schema={"key": pl.String, "title": pl.String})
    counts = keyed.drop_nulls("title").group_by("key", "title").len()
    ordered = counts.sort(["key", "len", "title"], descending=[False, True, False])
    return ordered.group_by("key", maintain_order=True).first().select("key", "title")


def top_entities(mentions: pl.DataFrame, per_label: int = TOP_PER_LABEL) -> pl.DataFrame:
    """label, name, title, mentions, articles: the most mentioned entities of each label;
    `title` is a person's most frequent title, else null."""
    keyed = _keyed(mentions)
    counts = keyed.group_by("key", "label").agg(
        mentions=pl.len(), articles=pl.col("article_id").n_unique()
    )
    ranked = counts.join(_names(keyed), on="key").sort(
        ["label", "mentions", "articles", "name"], descending=[False, True, True, False]
    )
    top = ranked.group_by("label", maintain_order=True).head(per_label)
    top = top.join(_titles(keyed), on="key", how="left", maintain_order="left")
    return top.select("label", "name", "title", "mentions", "articles")


def mentions_over_time(mentions: pl.DataFrame, top: int = TOP_OVER_TIME) -> pl.DataFrame:
    """date, name, mentions: daily mentions of the `top` most mentioned entities."""
    keyed = _keyed(mentions)
    leaders = keyed.group_by("key").len().sort(["len", "key"], descending=[True, False]).head(top)
    names = _names(keyed)
    # Two entities may share a display name (a PERS and an ORG): the label tells them apart.
    shown = names.join(keyed.select("key", "label").unique("key"), on="key")
    dupes = shown.filter(pl.col("name").is_duplicated())["key"]
    shown = shown.with_columns(
        name=pl.when(pl.col("key").is_in(dupes.implode()))
        .then(pl.col("name") + " (" + pl.col("label") + ")")
        .otherwise(pl.col("name"))
    )
    daily = keyed.join(leaders.select("key"), on="key").group_by("date", "key").len()
    joined = daily.join(shown.select("key", "name"), on="key")
    return joined.group_by("date", "name").agg(mentions=pl.col("len").sum()).sort("date", "name")


def articles_per_source_day(articles: pl.DataFrame) -> pl.DataFrame:
    """date, source, articles."""
    counts = articles.group_by("date", "source").agg(articles=pl.col("article_id").n_unique())
    return counts.sort("date", "source")


def watchlist_hits(mentions: pl.DataFrame) -> pl.DataFrame:
    """entity_id, name, name_en, mentions, articles: one row per linked watchlist entity."""
    linked = _keyed(mentions.filter(pl.col("entity_id").is_not_null()))
    counts = linked.group_by("key", "entity_id").agg(
        name_en=pl.col("name_en").drop_nulls().mode().sort().first(),
        mentions=pl.len(),
        articles=pl.col("article_id").n_unique(),
    )
    rows = counts.join(_names(linked), on="key").sort(
        ["mentions", "articles", "entity_id"], descending=[True, True, False]
    )
    return rows.select("entity_id", "name", "name_en", "mentions", "articles")


def countries(mentions: pl.DataFrame, top: int = TOP_COUNTRIES) -> pl.DataFrame:
    """country, mentions, articles: where the news is, by the resolved places' country."""
    placed = mentions.filter(pl.col("country").is_not_null())
    counts = placed.group_by("country").agg(
        mentions=pl.len(), articles=pl.col("article_id").n_unique()
    )
    return counts.sort(["mentions", "country"], descending=[True, False]).head(top)


def dup_groups(articles: pl.DataFrame, top: int = TOP_DUP_GROUPS) -> pl.DataFrame:
    """dup_group, title, sources, articles: stories stored by more than one source."""
    grouped = articles.filter(pl.col("dup_group").is_not_null())
    ordered = grouped.sort("published_at", "article_id", nulls_last=True)
    groups = ordered.group_by("dup_group", maintain_order=True).agg(
        title=pl.col("title").drop_nulls().first(),
        sources=pl.col("source").unique().sort(),
        articles=pl.col("article_id").n_unique(),
    )
    multi = groups.filter(pl.col("sources").list.len() > 1)
    multi = multi.with_columns(sources=pl.col("sources").list.join("، "))
    return multi.sort(["articles", "dup_group"], descending=[True, False]).head(top)


def failures_by_reason(failures: pl.DataFrame) -> pl.DataFrame:
    """source, reason, failures: the failures of each source by their `error`."""
    counts = failures.group_by("source", reason="error").len()
    ordered = counts.sort(["source", "len", "reason"], descending=[False, True, False])
    return ordered.rename({"len": "failures"})


def top_stories(
    articles: pl.DataFrame, stories: pl.DataFrame, top: int = TOP_STORIES
) -> pl.DataFrame:
    """title, sources, articles, first_seen, last_seen: the stories with most of the range's
    articles (merged stories counted with their survivor); none for files before version 5."""
    if "story_id" not in articles.columns:
        articles = articles.with_columns(story_id=pl.lit(None, pl.String))
    if "fetched_at" not in articles.columns:
        articles = articles.with_columns(fetched_at=pl.col("published_at"))
    ranked = stories_view.top_stories(articles, stories.select(_STORY_COLUMNS), top)
    stamp = "%Y-%m-%d %H:%M"
    return ranked.select(
        "title",
        pl.col("sources").list.join("، "),
        "articles",
        pl.col("first_seen").dt.strftime(stamp),
        pl.col("last_seen").dt.strftime(stamp),
    )
