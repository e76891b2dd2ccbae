"""The `marsad` command line; the parser and help texts are in marsad/cli_parser.py.

Commands: run (one monitoring run), serve (schedules on a local Prefect server), demo (the
offline demo site, then next steps), compact (merge partition files), search (full text,
BM25), stories (the biggest stories), report (offline HTML report), extract (page ->
JSON), check-url (would marsad fetch it?), ner (train/evaluate/tag, parsed by marsad/ner/cli.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from marsad.cli_parser import build_parser

if TYPE_CHECKING:
    from marsad.settings import Settings

# Prefect's telemetry makes noise and SQLite locks; set before prefect is imported.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def _print_summary(result: dict[str, object], out: str) -> None:
    print(
        f"stored {result['stored']} articles, {result['failed']} failures, "
        f"{result.get('deferred', 0)} deferred, {result['skipped']} already stored -> {out}"
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
    return monitor_run(
        args.out,
        sources=args.sources,
        allow_private_networks=args.allow_private_networks,
        settings=settings,
    )


EXIT_DISCOVERY_FAILED = 3


def monitor_run(out: str, **params: object) -> int:
    """One monitor flow run in this process, as the CLI reports it: the summary, then exit
    0 (completed), 3 (every source failed at discovery), 130 (Ctrl-C: stopped after the
    current batch; the next run resumes) or 1 (the run crashed)."""

    def start() -> Any:
        from marsad.flows.monitor import monitor

        return monitor(out=out, return_state=True, **params)

    return flow_in_process(start, out)


def flow_in_process(start: Callable[[], Any], out: str, what: str = "run") -> int:
    """Run a flow with Ctrl-C turned into a stop request, then print its summary; the exit
    code is `monitor_run`'s. `start` imports the flow: after SIGINT is blocked."""
    from marsad.interrupt import stop_on_signals

    with stop_on_signals() as interrupted:  # before Prefect starts a thread or a server
        from marsad.flows.run import RunOutcome

        state = start()
        # the flow returns a State; what the caller gets is its data
        result: object = state.result(raise_on_failure=False)
    if isinstance(result, RunOutcome):
        result = result.summary
    if not isinstance(result, dict):
        print(f"marsad: the {what} crashed: {result!r}", file=sys.stderr)
        return 1
    _print_summary(result, out)
    skips = cast("dict[str, int]", result.get("skip_reasons", {}))
    if skips or what == "ingest":
        print("skipped records: " + (", ".join(f"{r} {n}" for r, n in skips.items()) or "none"))
    if interrupted.first is not None:
        print(f"marsad: {state.message}; the next {what} takes up where this one stopped")
        return interrupted.exit_code
    if state.is_failed():
        print(f"marsad: {state.message}", file=sys.stderr)
        return EXIT_DISCOVERY_FAILED
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Exit 0 after SIGTERM, 130 after Ctrl-C (one line says how it stopped), 2 when it
    refuses to start (bad options, a taken port, another instance's deployments)."""
    import signal

    # First of all: every thread and child started from here on inherits a blocked SIGINT,
    # so a Ctrl-C reaches marsad alone (marsad/serve_runner.py).
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        from marsad.serve import ServeError, serve
        from marsad.settings import SettingsError
        from marsad.sources import SourcesError

        try:
            outcome = serve(
                args.sources,
                args.out,
                args.allow_private_networks,
                args.schedule,
                args.timezone,
                args.port,
                settings_file=args.settings,
                replace=args.replace,
                retention_days=args.retention_days,
            )
        except (SourcesError, SettingsError, ServeError) as exc:
            print(f"marsad: error: {exc}", file=sys.stderr)
            return 2
        print(outcome.line(), flush=True)
        return outcome.exit_code
    finally:
        from marsad.serve_runner import restore_mask

        restore_mask(mask)


def cmd_demo(args: argparse.Namespace) -> int:
    from marsad.demo import demo_root, demo_sources_yaml, next_steps, serve_directory
    from marsad.settings import Settings

    with serve_directory(demo_root()) as base, tempfile.TemporaryDirectory() as tmp:
        sources = Path(tmp) / "demo-sources.yaml"
        sources.write_text(demo_sources_yaml(base), encoding="utf-8")
        print(f"demo site at {base}")
        settings = Settings(per_host_delay_s=0.0, per_host_concurrency=4, backoff_base_s=0.05)
        status = monitor_run(
            args.out, sources=str(sources), allow_private_networks=True, settings=settings
        )
    if status == 0:
        print(next_steps(args.out))
    return status


def extract_one(target: str, allow_private: bool) -> dict[str, object]:
    """One page (file, .gz or URL) to its extraction, or to {"url", "error"}: never raises.

    A file is read and inflated to at most Settings().max_body_bytes, so /dev/zero or a gzip
    bomb costs that much memory and an error line, not the machine."""
    from marsad.charset import decode
    from marsad.extract import ExtractError, extract_html
    from marsad.fetch.feeds import NotAFeed
    from marsad.fetch.http import FetchError, HostLimiter, make_client
    from marsad.fetch.session import fetch_url
    from marsad.fetch.sitemaps import GZIP_MAGIC, gunzip_bounded
    from marsad.settings import Settings

    url: str | None = None
    try:
        settings = Settings(allow_private_networks=allow_private)
        if target.startswith(("http://", "https://")):

            async def get() -> tuple[str, str]:
                async with make_client(settings) as client:
                    resp = await fetch_url(client, target, settings, HostLimiter(settings))
                    return resp.final_url, decode(resp.body, resp.content_type)

            url, html = asyncio.run(get())
        else:
            limit = settings.max_body_bytes
            with open(target, "rb") as f:
                raw = f.read(limit + 1)
            if len(raw) > limit:
                return {"url": target, "error": f"too large: more than {limit} bytes"}
            if target.endswith(".gz") or raw[:2] == GZIP_MAGIC:
                raw = gunzip_bounded(raw, limit)
            html = decode(raw)
        ex = extract_html(html, url)
    except FetchError as exc:
        return {"url": target, "error": exc.reason}
    except OSError as exc:
        return {"url": target, "error": f"cannot read: {exc.strerror or exc}"}
    except (NotAFeed, ExtractError) as exc:  # NotAFeed: gunzip_bounded's refusals
        return {"url": url or target, "error": str(exc)}
    except Exception as exc:  # one bad input is one error line; the next input still runs
        return {"url": url or target, "error": f"{type(exc).__name__}: {exc}"}
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


def cmd_search(args: argparse.Namespace) -> int:
    """Exit 0 with results, 1 with none, 2 on a bad --since or query."""
    from marsad.search import main as search_main

    return search_main(args.out, args.query, args.since, args.source, args.limit, args.json)


def cmd_stories(args: argparse.Namespace) -> int:
    """Exit 0 with stories, 1 with none in the period, 2 on a bad --since."""
    from marsad.stories_view import main as stories_main

    return stories_main(args.out, args.since, args.limit, args.json)


def cmd_report(args: argparse.Namespace) -> int:
    """Exit 0 with the report written, 1 when the range holds no data, 2 on bad options."""
    from marsad.report_html import main as report_main

    return report_main(args.out, args.since, args.first, args.last, args.html)


def cmd_ingest(args: argparse.Namespace) -> int:
    """The ingest flow in this process; the summary adds the skipped records by reason."""
    from marsad.ingest_read import IngestInputError, expand
    from marsad.settings import SettingsError
    from marsad.sources import SourcesError, load_sources

    try:  # fail fast, before Prefect starts
        if args.sources:
            load_sources(args.sources)
        expand(args.warcs)
        settings = run_settings_from(args)
    except (SourcesError, SettingsError, IngestInputError) as exc:
        print(f"marsad: error: {exc}", file=sys.stderr)
        return 2
    language = None if args.language == "any" else args.language

    def start() -> Any:
        from marsad.flows.ingest import ingest

        return ingest(
            warcs=args.warcs,
            out=args.out,
            sources=args.sources,
            language=language,
            settings=settings,
            return_state=True,
        )

    return flow_in_process(start, args.out, "ingest")


def cmd_check_url(args: argparse.Namespace) -> int:
    from marsad.checkurl import main as check_url_main

    return check_url_main(args.url, args.allow_private_networks)


def cmd_extract(args: argparse.Namespace) -> int:
    """One JSON line per input, in order; exit status 1 when any input gave an error line."""
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
    handlers["check-url"] = cmd_check_url
    handlers["search"] = cmd_search
    handlers["stories"] = cmd_stories
    handlers["report"] = cmd_report
    handlers["ingest"] = cmd_ingest
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
