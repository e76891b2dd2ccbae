from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from marsad import __version__
from marsad.cli import build_parser, main, run_settings_from
from marsad.demo import demo_sources_yaml
from marsad.settings import SettingsError

REPO = Path(__file__).resolve().parents[1]


def marsad(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marsad.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=None if env is None else {**os.environ, **env},
    )


def test_run_refuses_a_bad_sources_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - name: x\n    feeds: [https://a.test/rss]\n    colour: red\n")
    proc = marsad("run", "--sources", str(bad), "--out", str(tmp_path / "out"))
    assert proc.returncode != 0
    assert str(bad) in proc.stderr and "'x'" in proc.stderr and "colour" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_run_requires_out() -> None:
    proc = marsad("run", "--sources", "s.yaml")
    assert proc.returncode == 2
    assert "--out" in proc.stderr


def test_extract_prints_one_json_object_per_input(tmp_path: Path) -> None:
    page = REPO / "seeds" / "demo" / "articles" / "oil-prices.html"
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body></body></html>")
    proc = marsad("extract", str(page), str(empty))
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"url", "title", "author", "published_at", "language", "text"}
    assert first["title"].startswith("أسعار النفط")
    assert first["author"] == "سارة العبدالله"
    assert first["published_at"] == "2026-11-28T11:05:00+00:00"
    assert first["language"] == "ar"
    assert "أوبك" in first["text"]
    assert "error" in second
    assert proc.returncode == 1


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/"])
def test_extract_refuses_link_local_urls(url: str) -> None:
    proc = marsad("extract", "--allow-private-networks", url)
    obj = json.loads(proc.stdout)
    assert "link-local" in obj["error"]


def test_run_refuses_a_bad_settings_file_before_prefect_starts(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {name: a, feeds: ['https://a.example/rss']}\n", "utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("batch_size: 10\nper_host_dealy_s: 0\n", encoding="utf-8")
    home = tmp_path / "prefect-home"
    out = tmp_path / "out"
    args = ("run", "--sources", str(sources), "--out", str(out), "--settings", str(bad))
    proc = marsad(*args, env={"PREFECT_HOME": str(home)})
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"marsad: error: {bad}:2: key 'per_host_dealy_s': unknown key"
    ]
    assert not out.exists()
    assert not list(home.rglob("*.db"))  # no Prefect server (ephemeral or not) ever started

    proc = marsad(*args[:-1], str(tmp_path / "none.yaml"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"marsad: error: {tmp_path / 'none.yaml'}: no such settings file"


def _settings_args(*extra: str) -> list[str]:
    return ["run", "--sources", "s.yaml", "--out", "o", *extra]


def test_explicit_run_options_override_the_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "batch_size: 7\nrunner: processes\nworkers: 3\nallow_private_networks: true\n", "utf-8"
    )
    parse = build_parser().parse_args
    from_file = run_settings_from(parse(_settings_args("--settings", str(path))))
    assert (from_file.batch_size, from_file.runner, from_file.workers) == (7, "processes", 3)
    assert from_file.allow_private_networks  # the file's word: the flow ORs in the CLI flag

    over = run_settings_from(parse(_settings_args("--settings", str(path), "--batch-size", "2")))
    assert (over.batch_size, over.runner, over.workers) == (2, "processes", 3)
    over = run_settings_from(parse(_settings_args("--settings", str(path), "--runner", "threads")))
    assert (over.batch_size, over.runner, over.workers) == (7, "threads", 3)
    assert over.allow_private_networks

    # the flag is the flow's parameter, never folded into the settings here
    flag = run_settings_from(parse(_settings_args("--allow-private-networks")))
    assert not flag.allow_private_networks
    with pytest.raises(SettingsError, match="--runner 'yarn': expected threads"):
        run_settings_from(parse(_settings_args("--settings", str(path), "--runner", "yarn")))


@pytest.mark.slow
def test_run_uses_the_settings_file(tmp_path: Path, demo_site: str) -> None:
    """batch_size and a watchlist (relative to the settings file) from --settings reach the
    flow: the articles link to the custom watchlist's id, in one file per 2-item batch."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(demo_sources_yaml(demo_site), encoding="utf-8")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "newsroom.yaml").write_text(
        "entities:\n  - {id: test-baghdad, type: LOC, name: Baghdad, ar: [بغداد]}\n", "utf-8"
    )
    settings = conf / "settings.yaml"
    settings.write_text(
        "batch_size: 2\nper_host_delay_s: 0\nbackoff_base_s: 0.01\nner_neural: false\n"
        "watchlist: newsroom.yaml\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    proc = marsad(
        *("run", "--sources", str(sources), "--out", str(out)),
        *("--settings", str(settings), "--allow-private-networks"),
        env={
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",  # migrates a new database
            "PREFECT_LOGGING_LEVEL": "WARNING",
        },
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list((tmp_path / "prefect-home").rglob("*.db"))  # what a started Prefect leaves
    assert f"stored 6 articles, 2 failures, 0 deferred, 1 already stored -> {out}" in proc.stdout

    df = pl.scan_parquet(f"{out}/articles/**/*.parquet", hive_partitioning=True).collect()
    linked = {e["entity_id"] for ents in df["entities"] for e in ents if e["entity_id"]}
    assert linked == {"test-baghdad"}  # the shipped watchlist would give Q1530 and others
    # 8 URLs to fetch, 2 per batch: four batches, each its own part-<run>-<seq> file
    seqs = {p.stem.rsplit("-", 1)[1] for p in out.glob("*/date=*/part-*.parquet")}
    assert seqs == {"00000", "00001", "00002", "00003"}


# --- for people: --version, help and examples, the demo's next steps ---------------------------

COMMANDS = {"run", "serve", "demo", "compact", "extract", "check-url", "search", "report", "ner"}
COMMANDS |= {"stories", "ingest"}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_version_prints_the_package_version() -> None:
    proc = marsad("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"marsad {__version__}\n"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set(_subcommands(build_parser())) == COMMANDS  # a new command joins this test
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert f"usage: marsad {command}" in text
    example = text.split("Example:\n", 1)[1]
    assert example.startswith(f"  marsad {command} ")


def test_every_option_of_every_command_says_what_it_does() -> None:
    from marsad.ner.cli import _parser as ner_parser

    parsers = {**_subcommands(build_parser()), **_subcommands(ner_parser())}
    parsers["marsad"] = build_parser()
    seen = 0
    for name, parser in parsers.items():
        assert parser.description, name
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
                continue
            seen += 1
            assert action.help and action.help.strip(), f"{name} {action.dest}: no help"
        assert (parser.epilog or "").startswith("Example:\n  marsad"), name
    assert seen > 40


@pytest.mark.slow
def test_demo_ends_with_next_steps_that_run_as_printed(tmp_path: Path) -> None:
    out = tmp_path / "demo out"  # a space: the printed commands must quote the path
    # a PATH without this environment's bin/ (a venv not activated): the steps name its
    # python and marsad by their paths, and run as printed from such a shell
    bindir = Path(sys.executable).parent
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != bindir)
    proc = marsad(
        *("demo", "--out", str(out)),
        env={
            "PATH": path,
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        },
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary, steps = proc.stdout.split("\nNext steps:\n")
    assert "stored 6 articles" in summary
    lines = [line.strip() for line in steps.splitlines()]
    marsad_bin, python = shlex.quote(str(bindir / "marsad")), shlex.quote(sys.executable)
    (search,) = [line for line in lines if " search " in line]
    assert search == f"{marsad_bin} search 'فؤاد حسين' --out {shlex.quote(str(out))}"
    (duck,) = [line for line in lines if line.startswith(f"{python} -c ") and "duckdb" in line]
    assert f"{marsad_bin} serve --sources sources.yaml --out {shlex.quote(str(out))}" in lines

    env = {**os.environ, "PATH": path}

    def shell(line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", line], capture_output=True, text=True, timeout=120, env=env
        )

    (report,) = [line for line in lines if " report --out " in line]
    assert report == f"{marsad_bin} report --out {shlex.quote(str(out))}"
    made = shell(report)
    assert made.returncode == 0 and "wrote " in made.stdout, made.stderr
    assert list((out / "reports").glob("report-*.html"))

    found = shell(search)
    assert found.returncode == 0, found.stderr
    hits = [line for line in found.stdout.splitlines()[1:] if line.strip()]
    assert hits and "فؤاد حسين" in found.stdout and "marsad-demo" in hits[0]

    names = shell(duck)
    assert names.returncode == 0, names.stderr
    table = {
        cells[0]: int(cells[1])
        for row in names.stdout.splitlines()
        if len(cells := [c.strip() for c in row.strip("│").split("│")]) == 2 and cells[1].isdigit()
    }
    assert len(table) == 10 and table["الناتو"] >= 2  # names unfolded, counted per mention
    assert "السعوديه" not in table
