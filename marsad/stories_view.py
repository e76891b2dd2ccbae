"""Reading stories: the biggest of a period, merges followed, for `marsad stories`, the report
and the monitor's artifact.

A story's size in a period is counted from the articles of that period (their `story_id`
resolved through `merged_into`), not from the row's running totals, so `--since 1d` means the
last day's articles. Articles are read before stories: rows are never deleted and a batch
swaps its stories in before its articles, so every story_id read has its row.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import polars as pl

from marsad.dataset import Location, read_dataset, resolve
from marsad.search import clip, width
from marsad.search_terms import SearchError, parse_since

TOP_STORIES = 10
HEADLINES = 3  # headlines shown per story
_ARTICLE_COLUMNS = ["article_id", "source", "title", "published_at", "fetched_at", "story_id"]
_STORY_COLUMNS = ["story_id", "title", "merged_into"]
MAX_HOPS = 1000  # a merge chain longer than this is cut (it would be a cycle)


def survivors(stories: pl.DataFrame) -> dict[str, str]:
    """story_id -> the story it ends up in, following `merged_into` (itself when standing)."""
    into: Mapping[str, str | None] = dict(
        zip(stories["story_id"].to_list(), stories["merged_into"].to_list(), strict=True)
    )
    out: dict[str, str] = {}
    for sid in into:
        cur, hops = sid, 0
        while (nxt := into.get(cur)) and nxt != cur and hops < MAX_HOPS:
            cur, hops = nxt, hops + 1
        out[sid] = cur
    return out


def top_stories(
    articles: pl.DataFrame, stories: pl.DataFrame, top: int = TOP_STORIES
) -> pl.DataFrame:
    """story_id, title, articles, outlets, sources, headlines, first_seen, last_seen: the
    stories with most articles among `articles`, merged stories counted with their survivor.

    `articles` needs article_id, source, title, published_at, fetched_at and story_id;
    `stories` story_id, title and merged_into. Articles without a story are left out."""
    keep = articles.filter(pl.col("story_id").is_not_null())
    if keep.is_empty():
        return pl.DataFrame(
            schema={
                "story_id": pl.String,
                "title": pl.String,
                "articles": pl.UInt32,
                "outlets": pl.UInt32,
                "sources": pl.List(pl.String),
                "headlines": pl.List(pl.String),
                "first_seen": pl.Datetime("us", "UTC"),
                "last_seen": pl.Datetime("us", "UTC"),
            }
        )
    ends = survivors(stories)
    mapping = pl.DataFrame(
        {"story_id": list(ends), "story": list(ends.values())},
        schema={"story_id": pl.String, "story": pl.String},
    )
    titles = stories.select(pl.col("story_id").alias("story"), pl.col("title").alias("row_title"))
    keyed = keep.join(mapping, on="story_id", how="left").with_columns(
        story=pl.coalesce("story", "story_id"),
        when=pl.coalesce("published_at", "fetched_at"),
    )
    ordered = keyed.sort("when", "article_id")
    grouped = ordered.group_by("story", maintain_order=True).agg(
        articles=pl.col("article_id").n_unique(),
        outlets=pl.col("source").n_unique(),
        sources=pl.col("source").unique(maintain_order=True).sort(),
        headlines=pl.col("title").drop_nulls().unique(maintain_order=True).head(HEADLINES),
        first_seen=pl.col("when").min(),
        last_seen=pl.col("when").max(),
        first_title=pl.col("title").drop_nulls().first(),
    )
    named = grouped.join(titles.unique("story"), on="story", how="left").with_columns(
        title=pl.coalesce("row_title", "first_title")
    )
    ranked = named.sort(
        ["articles", "outlets", "last_seen", "story"], descending=[True, True, True, False]
    )
    return ranked.head(top).select(
        pl.col("story").alias("story_id"),
        "title",
        "articles",
        "outlets",
        "sources",
        "headlines",
        "first_seen",
        "last_seen",
    )


def load(
    out: str | os.PathLike[str] | Location, since: datetime | None, top: int = TOP_STORIES
) -> pl.DataFrame:
    """The `top` stories of the stored articles from `since` on (`top_stories`)."""
    loc = resolve(out)
    arts = pl.from_arrow(read_dataset(loc, "articles", _ARTICLE_COLUMNS, since=_day(since)))
    rows = pl.from_arrow(read_dataset(loc, "stories", _STORY_COLUMNS))  # after the articles
    assert isinstance(arts, pl.DataFrame) and isinstance(rows, pl.DataFrame)
    if since is not None:
        when = pl.coalesce("published_at", "fetched_at")
        arts = arts.filter(when >= since)
    return top_stories(arts, rows, top)


def _day(since: datetime | None) -> date | None:
    return since.date() if since is not None else None


def table(stories: pl.DataFrame, headline_cols: int = 72) -> str:
    """Per story: rank, articles, outlets, first and last seen, the headline last (Arabic runs
    right to left from there), then its outlets and a few headlines, indented."""
    head = ("#", "articles", "outlets", "first seen", "last seen", "story")
    rows = [
        (
            str(k),
            str(s["articles"]),
            str(s["outlets"]),
            f"{s['first_seen']:%Y-%m-%d %H:%M}",
            f"{s['last_seen']:%Y-%m-%d %H:%M}",
            clip(" ".join((s["title"] or "").split()), headline_cols),
        )
        for k, s in enumerate(stories.iter_rows(named=True), 1)
    ]
    cols = [max(width(r[i]) for r in [head, *rows]) for i in range(5)]
    lines = []
    for r, s in zip([head, *rows], [None, *stories.iter_rows(named=True)], strict=True):
        cells = [c + " " * (cols[i] - width(c)) for i, c in enumerate(r[:5])]
        lines.append("  ".join([*cells, r[5]]).rstrip())
        if s is not None:
            lines.append("    outlets: " + "، ".join(s["sources"]))
            lines += ["    - " + clip(" ".join(h.split()), headline_cols) for h in s["headlines"]]
    return "\n".join(lines)


def _json(s: dict[str, Any]) -> str:
    s = {**s, "first_seen": s["first_seen"].isoformat(), "last_seen": s["last_seen"].isoformat()}
    return json.dumps(s, ensure_ascii=False)


def main(out: str, since: str | None = None, limit: int = 10, as_json: bool = False) -> int:
    """`marsad stories`: exit 0 with stories, 1 with none in the period, 2 on a bad --since."""
    try:
        start = parse_since(since) if since is not None else None
    except SearchError as exc:
        print(f"marsad stories: error: {exc}", file=sys.stderr)
        return 2
    found = load(out, start, limit)
    if found.is_empty():
        print("no stories in this period", file=sys.stderr)
        return 1
    if as_json:
        for s in found.iter_rows(named=True):
            print(_json(s))
    else:
        print(table(found))
    return 0
