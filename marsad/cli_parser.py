"""The `marsad` argument parser: every command, option, help text and example.

Apart from marsad/cli.py (the handlers) so both stay small; nothing here imports more
than argparse, so `marsad --help` and `marsad --version` start in a blink.
"""

from __future__ import annotations

import argparse

from marsad import __version__
from marsad.outdir import existing_out, writable_out

RAW = argparse.RawDescriptionHelpFormatter
PRIVATE_HELP = "allow loopback and private addresses (never link-local); default: refused"


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _iso_date(value: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from None


SETTINGS_HELP = (
    "settings YAML file (any Settings field: watchlist, batch_size, per_host_delay_s, ...); "
    "--batch-size and --runner override it, --allow-private-networks opens what it keeps shut; "
    "default: the built-in settings"
)


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    example: str,
) -> argparse.ArgumentParser:
    """A subcommand with its one-line summary (in `marsad --help`), a description and an
    `Example:` epilog, laid out as written."""
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog="Example:\n  " + example.strip().replace("\n", "\n  "),
        formatter_class=RAW,
    )


def _add_run_and_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = _command(
        sub,
        "run",
        "one monitoring run, in-process",
        "Fetch every source once (feeds, sitemaps, URLs), extract, normalise, tag entities\n"
        "and write Parquet under --out. Exit 0 done, 3 every source failed at discovery,\n"
        "130 stopped by Ctrl-C (the next run resumes), 1 crashed, 2 bad options.",
        "marsad run --sources sources.yaml --out ./data --settings settings.yaml",
    )
    run.add_argument("--sources", required=True, metavar="FILE", help="sources YAML file")
    run.add_argument(
        "--out",
        required=True,
        type=writable_out,
        metavar="DIR",
        help="output directory or URI (required)",
    )
    run.add_argument("--allow-private-networks", action="store_true", help=PRIVATE_HELP)
    run.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="documents per task run; default: the settings' batch_size",
    )
    run.add_argument(
        "--runner",
        default=None,
        help="threads, processes, dask or tcp://host:port; default: the settings' runner",
    )
    run.add_argument("--settings", default=None, metavar="FILE", help=SETTINGS_HELP)

    serve = _command(
        sub,
        "serve",
        "scheduled deployments + operator flows (Prefect server)",
        "Start a local Prefect server and serve the monitor on schedules, one deployment\n"
        "per source group, plus daily compact and cleanup. Runs until Ctrl-C or SIGTERM;\n"
        "the UI is at http://127.0.0.1:PORT.",
        "marsad serve --sources sources.yaml --out ./data --schedule 'wires=*/10 * * * *'",
    )
    serve.add_argument("--sources", required=True, metavar="FILE", help="sources YAML file")
    serve.add_argument(
        "--out",
        required=True,
        type=writable_out,
        metavar="DIR",
        help="output directory or URI (required)",
    )
    serve.add_argument("--allow-private-networks", action="store_true", help=PRIVATE_HELP)
    serve.add_argument(
        "--schedule",
        action="append",
        default=[],
        metavar="GROUP=CRON[@TZ]",
        help="cron for a source group, repeatable (default: wires every 15 minutes, others hourly)",
    )
    serve.add_argument(
        "--timezone", default="UTC", help="IANA timezone of the schedules (default UTC)"
    )
    serve.add_argument(
        "--port",
        type=_positive_int,
        default=4200,
        help="port of the local server it starts and of its UI; refused if anything holds it "
        "(default 4200)",
    )
    serve.add_argument(
        "--settings",
        default=None,
        metavar="FILE",
        help="settings YAML file: the deployments' `settings` parameter; default: built-in",
    )
    serve.add_argument(
        "--replace",
        action="store_true",
        help="take over deployments registered with other sources or out (default: refused)",
    )
    serve.add_argument(
        "--retention-days",
        type=_positive_int,
        default=30,
        metavar="N",
        help="the daily cleanup deletes finished flow runs older than N days (default 30)",
    )


def _add_listing_options(cmd: argparse.ArgumentParser, since_help: str) -> None:
    """--out, --since, --limit and --json of the commands that list stored things."""
    cmd.add_argument(
        "--out", required=True, type=existing_out, metavar="DIR", help="a marsad output or URI"
    )
    cmd.add_argument("--since", metavar="SPAN", help=since_help)
    cmd.add_argument(
        "--limit", type=_positive_int, default=10, metavar="N", help="at most N (default 10)"
    )
    cmd.add_argument(
        "--json", action="store_true", help="one JSON object per line (default: a table)"
    )


def _add_data_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    comp = _command(
        sub,
        "compact",
        "merge each date partition's files into one",
        "Rewrite each date partition that holds several Parquet files as one file per\n"
        "dataset, swapped in atomically, one row per article (the newest fetch).",
        "marsad compact --out ./data --date 2026-11-28",
    )
    comp.add_argument(
        "--out",
        required=True,
        type=existing_out,
        metavar="DIR",
        help="output directory or URI (a marsad output)",
    )
    comp.add_argument(
        "--date",
        action="append",
        default=None,
        type=_iso_date,
        help="only this day, YYYY-MM-DD (repeatable); default: every day",
    )
    comp.add_argument(
        "--min-files",
        type=_positive_int,
        default=2,
        metavar="N",
        help="compact partitions with at least N files (default 2)",
    )

    srch = _command(
        sub,
        "search",
        "stored articles matching words, best first (BM25)",
        "Full-text search of stored articles, folded like text_norm (diacritics, tatweel,\n"
        "alef and hamza forms don't matter), ranked by BM25, with a snippet of the match.\n"
        "Exit 0 with results, 1 with none, 2 on a bad --since or query.",
        "marsad search 'فؤاد حسين' --out ./data --since 7d --limit 5",
    )
    srch.add_argument("query", help="words to find; diacritics, hamza and alef forms don't matter")
    _add_listing_options(srch, "last 7d, 24h, 2w, or from YYYY-MM-DD on; default: all stored")
    srch.add_argument("--source", metavar="NAME", help="only articles of this source; default: all")

    sto = _command(
        sub,
        "stories",
        "the biggest stories of a period: outlets and headlines",
        "Stories (one event across outlets and days) with most articles in the period,\n"
        "merged stories counted with the one that absorbed them; their outlets and a few\n"
        "headlines. Exit 0 with stories, 1 with none, 2 on a bad --since.",
        "marsad stories --out ./data --since 1d --limit 5",
    )
    _add_listing_options(
        sto, "articles published in the last 1d, 24h, 2w, or from YYYY-MM-DD on; default: all"
    )

    rep = _command(
        sub,
        "report",
        "an offline HTML report with charts (RTL, no script)",
        "One self-contained HTML file: mentions over time, articles per source, top\n"
        "entities, watchlist hits, places, near-duplicates, failures.",
        "marsad report --out ./data --since 7d",
    )
    rep.add_argument(
        "--out", required=True, type=existing_out, metavar="DIR", help="a marsad output or URI"
    )
    rep.add_argument("--since", metavar="SPAN", help="last 7d, 24h, 2w, or from YYYY-MM-DD on")
    rep.add_argument(
        "--from", dest="first", type=_iso_date, metavar="DATE", help="first day (YYYY-MM-DD)"
    )
    rep.add_argument("--to", dest="last", type=_iso_date, metavar="DATE", help="last day")
    rep.add_argument(
        "--html",
        metavar="FILE",
        help="where to write it (default DIR/reports/report-<from>-<to>.html)",
    )


def _add_tools(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = _command(
        sub,
        "demo",
        "serve the offline demo site and run the flow on it",
        "Serve the bundled demo news site on a loopback port, run the monitor on it once\n"
        "and print what to try next (search, DuckDB). No network needed.",
        "marsad demo --out /tmp/marsad-demo",
    )
    demo.add_argument(
        "--out",
        default="./data",
        type=writable_out,
        metavar="DIR",
        help="output directory (default ./data)",
    )

    ex = _command(
        sub,
        "extract",
        "print extracted JSON for pages or URLs",
        "One JSON line per input (url, title, author, published_at, language, text), or\n"
        "{url, error}; exit 1 when any input failed. Files may be gzipped.",
        "marsad extract page.html https://example.org/news/1.html",
    )
    ex.add_argument("inputs", nargs="+", metavar="PATH_OR_URL", help="HTML files or http(s) URLs")
    ex.add_argument("--allow-private-networks", action="store_true", help=PRIVATE_HELP)

    chk = _command(
        sub,
        "check-url",
        "would marsad fetch this URL? (scheme, host, each resolved address; no connection)",
        "Say whether marsad would fetch a URL, and why not: its scheme, host and every\n"
        "address it resolves to are checked against the allow-list. Nothing is fetched.",
        "marsad check-url https://www.example.org/rss",
    )
    chk.add_argument("url", help="the URL to judge")
    chk.add_argument("--allow-private-networks", action="store_true", help=PRIVATE_HELP)

    # parsed by marsad/ner/cli.py (`marsad ner --help` shows its own options)
    sub.add_parser(
        "ner",
        help="train, evaluate or run the NER model",
        add_help=False,
        description="Train, evaluate or run the Arabic NER model (see `marsad ner --help`).",
        epilog="Example:\n  marsad ner evaluate test.conll",
        formatter_class=RAW,
    )


def _add_ingest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ing = _command(
        sub,
        "ingest",
        "store the articles of WARC files (CC-NEWS, any crawl)",
        "Read WARC files (.warc, .warc.gz: paths, globs, file://, s3://, gs://, https://) a\n"
        "record at a time; 200 HTML responses in --language go through the live run's stages\n"
        "(fetched_at = WARC-Date). Resumable: a second ingest adds nothing, a killed one\n"
        "resumes. Exit 0 done, 1 crashed, 2 bad options.",
        "marsad ingest 'crawl/CC-NEWS-2024*.warc.gz' --out ./data --sources sources.yaml",
    )
    ing.add_argument("warcs", nargs="+", metavar="WARC", help="WARC file, glob or URI")
    ing.add_argument(
        "--out",
        required=True,
        type=writable_out,
        metavar="DIR",
        help="output directory or URI (required)",
    )
    ing.add_argument(
        "--sources",
        default=None,
        metavar="FILE",
        help="keep records on the hosts of these sources (feeds, sitemaps, homepage, urls, "
        "domains); default: every record, its source its registered domain",
    )
    ing.add_argument(
        "--language",
        default="ar",
        metavar="CODE",
        help="keep pages detected in this language, ISO 639-1, or 'any' (default ar)",
    )
    ing.add_argument(
        "--runner",
        default=None,
        help="threads, processes, dask or tcp://host:port; default: the settings' runner",
    )
    ing.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="pages per chunk (one task run); default: the settings' batch_size",
    )
    ing.add_argument("--settings", default=None, metavar="FILE", help=SETTINGS_HELP)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="marsad",
        description="Media monitoring for Arabic news.",
        epilog="Example:\n  marsad demo --out /tmp/marsad-demo\n"
        "Run `marsad COMMAND --help` for a command's options and an example.",
        formatter_class=RAW,
    )
    p.add_argument(
        "--version", action="version", version=f"marsad {__version__}", help="print the version"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run_and_serve(sub)
    _add_data_commands(sub)
    _add_tools(sub)
    _add_ingest(sub)
    return p
