"""The monitor run's `run-stories` artifact: the biggest stories of the story window.

The window is the matcher's (72 hours of publication time before now): the stories a live
monitor is still adding to. Headlines are data: escaped, and an Arabic one laid out right to
left as the run-entities artifact lays out its titles (docs/decisions.md).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from marsad.dataset import Location
from marsad.stories import WINDOW
from marsad.stories_view import load
from marsad.summary import PDI, RLI, is_rtl

TOP = 10


def _plain(text: str) -> str:
    """Text for a markdown table cell: one line, no markup, no cell or link syntax."""
    text = " ".join(text.replace("|", "/").split())
    for ch, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(ch, entity)
    for ch in "\\*_`[]":
        text = text.replace(ch, "\\" + ch)
    return text


def _headline(title: str | None) -> str:
    text = _plain(title or "")
    return f'<div dir="rtl">{RLI}{text}{PDI}</div>' if is_rtl(text) else text


def top_stories_markdown(
    out: str | os.PathLike[str] | Location, now: datetime | None = None, top: int = TOP
) -> str:
    """A markdown table of the `top` stories with most articles published in the window."""
    since = (now or datetime.now(UTC)) - WINDOW
    stories = load(out, since, top)
    hours = int(WINDOW.total_seconds() // 3600)
    if stories.is_empty():
        return f"No stories in the last {hours} hours (publication time).\n"
    lines = [
        f"## Top stories, last {hours} hours",
        "",
        "| # | headline | outlets | articles | first seen | last seen |",
        "|---|---|---|---|---|---|",
    ]
    for k, s in enumerate(stories.iter_rows(named=True), 1):
        outlets = _plain("، ".join(s["sources"]))
        lines.append(
            f"| {k} | {_headline(s['title'])} | {outlets} | {s['articles']} | "
            f"{s['first_seen']:%Y-%m-%d %H:%M} | {s['last_seen']:%Y-%m-%d %H:%M} |"
        )
    return "\n".join(lines) + "\n"
