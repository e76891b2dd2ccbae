"""The `marsad` command line: run, demo, extract, ner."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from marsad.settings import Settings

# Prefect's telemetry makes noise and SQLite locks; set before prefect is imported.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


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
    "--batch-size and --runner override it, --allow-private-networks opens what it keeps shut"
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="marsad", description="Media monitoring for Arabic news.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="one monitoring run, in-process")
    run.add_argument("--sources", required=True, help="sources YAML file")
    run.add_argument("--out", required=True, help="output directory")
    run.add_argument(
        "--allow-private-networks",
        action="store_true",
        help="allow loopback and private addresses (never link-local)",
    )
    run.add_argument(
        "--batch-size", type=_positive_int, default=None, help="documents per task run"
    )

    run.add_argument("--runner", default=None, help="threads, processes, dask or tcp://host:port")
    run.add_argument("--settings", default=None, metavar="FILE", help=SETTINGS_HELP)

    serve = sub.add_parser("serve", help="scheduled deployments + operator flows (Prefect server)")
    serve.add_argument("--sources", required=True, help="sources YAML file")
    serve.add_argument("--out", required=True, help="output directory")
    serve.add_argument("--allow-private-networks", action="store_true")
    serve.add_argument(
        "--schedule",
        action="append",
        default=[],
        metavar="GROUP=CRON[@TZ]",
        help="cron for a source group (default: wires every 15 minutes, others hourly)",
    )
    serve.add_argument("--timezone", default="UTC", help="IANA timezone of the schedules")
    serve.add_argument(
        "--port", type=_positive_int, default=4200, help="local server port (if one is started)"
    )
    serve.add_argument(
        "--settings",
        default=None,
        metavar="FILE",
        help="settings YAML file: the deployments' `settings` parameter",
    )

    comp = sub.add_parser("compact", help="merge each date partition's files into one")
    comp.add_argument("--out", required=True, help="output directory or URI")
    comp.add_argument(
        "--date", action="append", default=None, type=_iso_date, help="YYYY-MM-DD (repeatable)"
    )
    comp.add_argument(
        "--min-files", type=_positive_int, default=2, help="compact partitions with this many"
    )

    demo = sub.add_parser("demo", help="serve the offline demo site and run the flow on it")
    demo.add_argument("--out", default="./data", help="output directory (default ./data)")

    ex = sub.add_parser("extract", help="print extracted JSON for pages or URLs")
    ex.add_argument("inputs", nargs="+", metavar="PATH_OR_URL")
    ex.add_argument("--allow-private-networks", action="store_true")

    sub.add_parser("ner", help="train, evaluate or run the NER model", add_help=False)
    return p


def _print_summary(result: dict[str, object], out: str) -> None:
    print(
        f"stored {result['stored']} articles, {result['failed']} failures, "
        f"{result['skipped']} already stored -> {out}"
    )
    rows = cast("list[dict[str, object]]", result.get("sources", []))
    for row in rows:
        reasons = f" ({row['failure reasons']})" if row["failure reasons"] else ""
        print(
            f"  {row['source']}: fetched {row['fetched']}, stored {row['stored']}, "
            f"failed {row['failed']}{reasons}"
        )


def run_settings_from(args: argparse.Namespace) -> Settings:
    """`marsad run`'s settings: the --settings file (else the defaults), then --batch-size and
    --runner over it. --allow-private-networks is not folded in: it is the flow's parameter,
    and the flow's `run_settings` is the one place where it meets the settings."""
    from marsad.settings import Settings, SettingsError, load_settings

    settings = load_settings(args.settings) if args.settings else Settings()
    updates: dict[str, object] = {}
    if args.batch_size is not None:
        updates["batch_size"] = args.batch_size
    if args.runner is not None:
        updates["runner"] = args.runner
    if not updates:
        return settings
    try:
        return Settings.model_validate({**settings.model_dump(exclude_unset=True), **updates})
    except ValueError:
        from marsad.flows.runners import RUNNER_HELP

        raise SettingsError(f"--runner {args.runner!r}: expected {RUNNER_HELP}") from None


def cmd_run(args: argparse.Namespace) -> int:
    from marsad.settings import SettingsError
    from marsad.sources import SourcesError, load_sources

    try:  # fail fast, before Prefect starts
        load_sources(args.sources)
        settings = run_settings_from(args)
    except (SourcesError, SettingsError) as exc:
        print(f"marsad: error: {exc}", file=sys.stderr)
        return 2
    from marsad.flows.monitor import monitor

    result = monitor(
        sources=args.sources,
        out=args.out,
        allow_private_networks=args.allow_private_networks,
        settings=settings,
    )
    _print_summary(result, args.out)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from marsad.serve import ServeError, serve
    from marsad.settings import SettingsError
    from marsad.sources import SourcesError

    try:
        serve(
            args.sources,
            args.out,
            args.allow_private_networks,
            args.schedule,
            args.timezone,
            args.port,
            settings_file=args.settings,
        )
    except (SourcesError, SettingsError, ServeError) as exc:
        print(f"marsad: error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from marsad.demo import demo_root, demo_sources_yaml, serve_directory
    from marsad.flows.monitor import monitor
    from marsad.settings import Settings

    with serve_directory(demo_root()) as base, tempfile.TemporaryDirectory() as tmp:
        sources = Path(tmp) / "demo-sources.yaml"
        sources.write_text(demo_sources_yaml(base), encoding="utf-8")
        print(f"demo site at {base}")
        settings = Settings(per_host_delay_s=0.0, per_host_concurrency=4, backoff_base_s=0.05)
        result = monitor(
            sources=str(sources), out=args.out, allow_private_networks=True, settings=settings
        )
    _print_summary(result, args.out)
    return 0


def extract_one(target: str, allow_private: bool) -> dict[str, object]:
    from marsad.charset import decode
    from marsad.extract import ExtractError, extract_html
    from marsad.fetch.http import FetchError, HostLimiter, make_client
    from marsad.fetch.session import fetch_url
    from marsad.settings import Settings

    url: str | None = None
    if target.startswith(("http://", "https://")):
        settings = Settings(allow_private_networks=allow_private)

        async def get() -> tuple[str, str]:
            async with make_client(settings) as client:
                resp = await fetch_url(client, target, settings, HostLimiter(settings))
                return resp.final_url, decode(resp.body, resp.content_type)

        try:
            url, html = asyncio.run(get())
        except FetchError as exc:
            return {"url": target, "error": exc.reason}
    else:
        path = Path(target)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            return {"url": target, "error": f"cannot read: {exc.strerror}"}
        if path.suffix == ".gz":
            import gzip

            raw = gzip.decompress(raw)
        html = decode(raw)
        url = None
    try:
        ex = extract_html(html, url)
    except ExtractError as exc:
        return {"url": url or target, "error": str(exc)}
    return {
        "url": ex.url or url or target,
        "title": ex.title,
        "author": ex.author,
        "published_at": ex.published_at.isoformat() if ex.published_at else None,
        "language": ex.language,
        "text": ex.text,
    }


def cmd_compact(args: argparse.Namespace) -> int:
    from marsad.compact import compact

    print(compact(args.out, args.date, args.min_files))
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    status = 0
    for target in args.inputs:
        obj = extract_one(target, args.allow_private_networks)
        if "error" in obj:
            status = 1
        print(json.dumps(obj, ensure_ascii=False), flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "ner":
        from marsad.ner.cli import main as ner_main

        return ner_main(argv[1:])
    args = build_parser().parse_args(argv)
    handlers = {"run": cmd_run, "serve": cmd_serve, "demo": cmd_demo, "extract": cmd_extract}
    handlers["compact"] = cmd_compact
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
