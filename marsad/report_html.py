"""`marsad report`'s page: one HTML file, right to left, charts as inline SVG, no script.

Charts are Vega-Lite specs built with Altair and drawn to SVG by `vl-convert` (its own
embedded engine: no browser, no network), so the file opens offline and runs no JavaScript.
Every string from the data (titles, names, sources, reasons) is attacker-controlled: tables
go through `html.escape`, chart labels through the SVG renderer's XML escaping.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from marsad import report

FONT = "'Noto Naskh Arabic', 'Noto Sans Arabic', 'DejaVu Sans', Tahoma, sans-serif"
CHART_WIDTH = 520
_CSS = (
    f"body {{ font-family: {FONT}; "
    + """margin: 1.5em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; }
section { margin-bottom: 2em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; unicode-bidi: plaintext; }
th { background: #f4f4f4; }
td.n { text-align: left; font-variant-numeric: tabular-nums; }
.chart { direction: ltr; overflow-x: auto; }
.empty { color: #777; }
"""
)


@dataclass(frozen=True, slots=True)
class Report:
    """The report of one range of days: the HTML and what it showed (for the CLI's line)."""

    html: str
    articles: int
    mentions: int
    failures: int


def _svg(chart: Any) -> str:
    import vl_convert

    return str(vl_convert.vegalite_to_svg(chart.to_dict()))


def _base(df: pl.DataFrame) -> Any:
    import altair as alt

    cfg = alt.Chart({"values": df.to_dicts()}).configure(font=FONT)
    return cfg.configure_axis(labelFontSize=12, titleFontSize=12, labelLimit=220)


def line_chart(df: pl.DataFrame) -> str:
    """Mentions per day of the leading entities, one line each."""
    import altair as alt

    data = df.with_columns(pl.col("date").cast(pl.String))
    chart = (
        _base(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("date:T", title="اليوم"),
            y=alt.Y("mentions:Q", title="الإشارات"),
            color=alt.Color("name:N", title="الكيان"),
        )
    )
    return _svg(chart.properties(width=CHART_WIDTH, height=260))


def source_day_chart(df: pl.DataFrame) -> str:
    """Articles per day, stacked by source."""
    import altair as alt

    data = df.with_columns(pl.col("date").cast(pl.String))
    chart = (
        _base(data)
        .mark_bar()
        .encode(
            x=alt.X("date:O", title="اليوم"),
            y=alt.Y("articles:Q", title="المقالات"),
            color=alt.Color("source:N", title="المصدر"),
        )
    )
    return _svg(chart.properties(width=CHART_WIDTH, height=240))


def bar_chart(df: pl.DataFrame, label: str, value: str, title: str) -> str:
    """Horizontal bars, longest first."""
    import altair as alt

    chart = (
        _base(df)
        .mark_bar()
        .encode(
            y=alt.Y(f"{label}:N", sort="-x", title=title),
            x=alt.X(f"{value}:Q", title="الإشارات" if value == "mentions" else value),
        )
    )
    return _svg(chart.properties(width=CHART_WIDTH, height=max(60, 22 * df.height)))


def failures_chart(df: pl.DataFrame) -> str:
    """Failures per source, stacked by reason."""
    import altair as alt

    chart = (
        _base(df)
        .mark_bar()
        .encode(
            y=alt.Y("source:N", title="المصدر"),
            x=alt.X("failures:Q", title="الإخفاقات"),
            color=alt.Color("reason:N", title="السبب"),
        )
    )
    height = max(60, 26 * df["source"].n_unique())
    return _svg(chart.properties(width=CHART_WIDTH, height=height))


def table(df: pl.DataFrame, headers: dict[str, str]) -> str:
    """An escaped table of the columns named in `headers` (column -> heading)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers.values())
    rows = []
    for row in df.select(list(headers)).iter_rows():
        cells = []
        for value in row:
            cls = ' class="n"' if isinstance(value, int | float) else ""
            text = "" if value is None else str(value)
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _section(ident: str, title: str, body: str, empty: bool) -> str:
    inner = '<p class="empty">لا بيانات في هذه الفترة.</p>' if empty else body
    return f'<section id="{ident}"><h2>{html.escape(title)}</h2>{inner}</section>'


def _chart(svg: str) -> str:
    return f'<div class="chart">{svg}</div>'


def render(frames: report.Frames, first: date, last: date) -> Report:
    """The whole page for the rows in `frames` (already limited to `first`..`last`)."""
    over_time = report.mentions_over_time(frames.mentions)
    per_source = report.articles_per_source_day(frames.articles)
    top = report.top_entities(frames.mentions)
    hits = report.watchlist_hits(frames.mentions)
    places = report.countries(frames.mentions)
    dups = report.dup_groups(frames.articles)
    stories = report.top_stories(frames.articles, frames.stories)
    fails = report.failures_by_reason(frames.failures)
    counts = {"name": "الاسم", "mentions": "الإشارات", "articles": "المقالات"}
    parts = [
        _section(
            "over-time",
            "الإشارات عبر الزمن لأبرز الكيانات",
            _chart(line_chart(over_time)) if over_time.height else "",
            over_time.is_empty(),
        ),
        _section(
            "per-source",
            "المقالات لكل مصدر في اليوم",
            _chart(source_day_chart(per_source)) if per_source.height else "",
            per_source.is_empty(),
        ),
        _section(
            "top-entities",
            "أبرز الكيانات حسب النوع",
            table(top, {"label": "النوع", "name": "الاسم", "title": "اللقب", **counts}),
            top.is_empty(),
        ),
        _section(
            "watchlist",
            "إصابات قائمة المراقبة",
            (_chart(bar_chart(hits, "name", "mentions", "الكيان")) if hits.height else "")
            + table(
                hits,
                {
                    "entity_id": "المعرّف",
                    "name": "الاسم",
                    "name_en": "English",
                    **{k: v for k, v in counts.items() if k != "name"},
                },
            ),
            hits.is_empty(),
        ),
        _section(
            "places",
            "الأماكن حسب البلد",
            _chart(bar_chart(places, "country", "mentions", "البلد")) if places.height else "",
            places.is_empty(),
        ),
        _section(
            "top-stories",
            "أبرز القصص",
            table(
                stories,
                {
                    "title": "العنوان",
                    "sources": "المصادر",
                    "articles": "المقالات",
                    "first_seen": "أول ظهور",
                    "last_seen": "آخر ظهور",
                },
            ),
            stories.is_empty(),
        ),
        _section(
            "duplicates",
            "القصة نفسها في أكثر من مصدر",
            table(dups, {"title": "العنوان", "sources": "المصادر", "articles": "المقالات"}),
            dups.is_empty(),
        ),
        _section(
            "failures",
            "الإخفاقات حسب السبب لكل مصدر",
            (_chart(failures_chart(fails)) if fails.height else "")
            + table(fails, {"source": "المصدر", "reason": "السبب", "failures": "العدد"}),
            fails.is_empty(),
        ),
    ]
    span = f"{first.isoformat()} – {last.isoformat()}"
    summary = (
        f"<p>{frames.articles.height} مقالة، {frames.mentions.height} إشارة، "
        f"{frames.failures.height} إخفاق.</p>"
    )
    page = (
        '<!DOCTYPE html>\n<html lang="ar" dir="rtl"><head><meta charset="utf-8">'
        f"<title>{html.escape('تقرير مرصد ' + span)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head>"
        f'<body dir="rtl"><h1>تقرير مرصد <bdi dir="ltr">{html.escape(span)}</bdi></h1>'
        f"{summary}{''.join(parts)}</body></html>\n"
    )
    return Report(page, frames.articles.height, frames.mentions.height, frames.failures.height)


def days(
    stored: tuple[date, date],
    since: str | None,
    first: str | None,
    last: str | None,
    today: date | None = None,
) -> tuple[date, date]:
    """The report's first and last day: --since (to today), else --from/--to, each defaulting
    to the first or last stored day."""
    from datetime import UTC, datetime

    from marsad.search_terms import SearchError, parse_since

    if since is not None:
        if first is not None or last is not None:
            raise report.ReportError("--since goes alone, or use --from/--to")
        try:
            start = parse_since(since).date()
        except SearchError as exc:
            raise report.ReportError(str(exc)) from None
        return start, today or datetime.now(UTC).date()
    start = date.fromisoformat(first) if first else stored[0]
    end = date.fromisoformat(last) if last else stored[1]
    if start > end:
        raise report.ReportError(f"--from {start} is after --to {end}")
    return start, end


def write_report(
    out: str, start: date, end: date, html_file: str | None = None
) -> tuple[str, Report] | None:
    """Write the report of `start`..`end` (default file: DIR/reports/report-<from>-<to>.html);
    None when the range holds no data. Raises OSError when the file cannot be written."""
    from marsad.dataset import resolve

    loc = resolve(out)
    frames = report.load(loc, start, end)
    if report.stored_days(loc) is None or frames.empty:
        return None
    page = render(frames, start, end)
    if html_file is not None:
        with open(html_file, "w", encoding="utf-8") as fh:
            fh.write(page.html)
        return html_file, page
    target = loc.path("reports", f"report-{start.isoformat()}-{end.isoformat()}.html")
    loc.fs.create_dir(loc.path("reports"), recursive=True)
    with loc.fs.open_output_stream(target) as stream:
        stream.write(page.html.encode("utf-8"))
    return target, page


def write_recent(out: str, days: int) -> str | None:
    """The report of the last `days` days (today included, UTC): its path, or None when
    there is nothing to report. The daily `report` deployment runs this."""
    from datetime import UTC, datetime, timedelta

    end = datetime.now(UTC).date()
    written = write_report(out, end - timedelta(days=max(1, days) - 1), end)
    return None if written is None else written[0]


def newest_report(out: str) -> str | None:
    """The most recently written report under DIR/reports, if any (for run artifacts)."""
    from pyarrow import fs as pafs

    from marsad.dataset import resolve

    loc = resolve(out)
    try:
        infos = loc.fs.get_file_info(pafs.FileSelector(loc.path("reports")))
    except (OSError, FileNotFoundError):
        return None
    files = [i for i in infos if i.type == pafs.FileType.File and i.path.endswith(".html")]
    if not files:
        return None
    return str(max(files, key=lambda i: i.mtime_ns or 0).path)


def main(
    out: str, since: str | None, first: str | None, last: str | None, html_file: str | None
) -> int:
    """Exit 0 with the report written, 1 when the range holds no data, 2 on bad options or
    an --html that cannot be written."""
    import sys

    from marsad.dataset import resolve

    stored = report.stored_days(resolve(out))
    try:
        start, end = days(stored or (date.today(), date.today()), since, first, last)
    except report.ReportError as exc:
        print(f"marsad report: error: {exc}", file=sys.stderr)
        return 2
    try:
        written = write_report(out, start, end, html_file)
    except OSError as exc:
        where = html_file or f"{out}/reports"
        print(f"marsad report: error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if written is None:
        print(f"marsad report: no articles, mentions or failures from {start} to {end}")
        return 1
    target, page = written
    print(
        f"wrote {target}: {page.articles} articles, {page.mentions} mentions, "
        f"{page.failures} failures, {start} to {end}"
    )
    return 0
