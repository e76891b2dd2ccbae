"""Local inputs bounded like the network path: YAML depth and duplicate keys in every file
marsad reads, and `--out` checked before anything starts (nothing created on refusal)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marsad import dataset, outdir, state, transaction
from marsad.settings import SettingsError, parse_settings
from marsad.sources import SourcesError, parse_sources
from marsad.watchlist import WatchlistError, parse_watchlist
from marsad.yamlfile import MAX_DEPTH

PARSERS = {
    "sources": (parse_sources, SourcesError),
    "watchlist": (parse_watchlist, WatchlistError),
    "settings": (parse_settings, SettingsError),
}
SOURCES = "sources:\n  - name: a\n    feeds: [https://a.example/rss]\n"


def marsad(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marsad.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("kind", sorted(PARSERS))
@pytest.mark.parametrize("text", ["[" * 100_000, "{a: " * 100_000, "[" * 100_000 + "]" * 100_000])
def test_deep_nesting_is_an_error_not_a_recursion_error(kind: str, text: str) -> None:
    parse, error = PARSERS[kind]
    with pytest.raises(error, match=rf"^f\.yaml:1: nested deeper than {MAX_DEPTH} levels$"):
        parse(f"{kind}: " + text, "f.yaml")


def test_nesting_within_the_limit_is_fine() -> None:
    text = "sources:\n  - name: a\n    feeds: [https://a.example/rss]\n    x: " + "[" * 20
    with pytest.raises(SourcesError, match="not valid YAML"):  # unclosed, but not too deep
        parse_sources(text, "f.yaml")


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        (
            "sources",
            SOURCES + "    name: b\n",
            "f.yaml:4: key 'name': given twice (first on line 2)",
        ),
        (
            "sources",
            "sources:\n  - {name: a, feeds: [https://a.example/rss], name: b}\n",
            "f.yaml:2: key 'name': given twice (first on line 2)",
        ),
        ("sources", SOURCES + "sources: []\n", "f.yaml:4: key 'sources': given twice"),
        (
            "watchlist",
            "entities:\n  - id: Q1\n    type: LOC\n    name: x\n    ar: [بغداد]\n    type: ORG\n",
            "f.yaml:6: key 'type': given twice (first on line 3)",
        ),
        ("settings", "batch_size: 3\nworkers: 2\nbatch_size: 4\n", "f.yaml:3: key 'batch_size'"),
    ],
)
def test_a_duplicated_key_is_refused_with_its_line(kind: str, text: str, expected: str) -> None:
    parse, error = PARSERS[kind]
    with pytest.raises(error) as err:
        parse(text, "f.yaml")
    assert str(err.value).startswith(expected)


def test_merge_keys_may_override() -> None:
    text = (
        "base: &base {feeds: [https://a.example/rss]}\n"
        "sources:\n  - <<: *base\n    name: a\n    feeds: [https://b.example/rss]\n"
    )
    with pytest.raises(SourcesError, match="'base': unknown key"):  # not 'given twice'
        parse_sources(text, "f.yaml")


def test_a_billion_laughs_stays_small() -> None:
    """Aliases are shared, not copied: nine levels of ten are 10**9 items only if expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = "\n".join(lines) + "\nsources:\n  - name: a\n    feeds: *a8\n"
    with pytest.raises(SourcesError, match="feeds"):
        parse_sources(text, "f.yaml")


@settings(
    derandomize=True,
    database=None,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(kind=st.sampled_from(sorted(PARSERS)), text=st.text(max_size=300))
def test_any_text_is_parsed_or_refused_with_the_file_error(kind: str, text: str) -> None:
    parse, error = PARSERS[kind]
    try:
        parse(text, "f.yaml")
    except error as exc:
        assert str(exc).startswith("f.yaml")


@settings(derandomize=True, database=None, max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(sorted(PARSERS)),
    text=st.text(alphabet="[]{}:,- \nab&*!", max_size=400),
)
def test_yaml_punctuation_soup_is_refused_cleanly(kind: str, text: str) -> None:
    parse, error = PARSERS[kind]
    try:
        parse(text, "f.yaml")
    except error as exc:
        assert str(exc).startswith("f.yaml")


def test_a_deep_sources_file_through_the_cli(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("sources: " + "[" * 100_000, encoding="utf-8")
    out = tmp_path / "out"
    proc = marsad("run", "--sources", str(deep), "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"marsad: error: {deep}:1: nested deeper than {MAX_DEPTH} levels"
    assert not out.exists()


# --- --out ---------------------------------------------------------------------------------


def test_the_markers_are_what_the_writers_write() -> None:
    # stories/ is only ever written beside articles/, which marks the output already
    assert set(outdir.DATASETS) == set(dataset.DATASETS) - {"stories"}
    assert outdir.LOCK_FILE == transaction.LOCK_FILE
    assert state.state_path("/o").as_posix() == f"/o/{outdir.STATE_FILE}"


@pytest.mark.parametrize("command", ["run", "serve", "demo"])
def test_out_that_is_a_file_is_refused_before_anything_starts(command: str, tmp_path: Path) -> None:
    sources = tmp_path / "s.yaml"
    sources.write_text(SOURCES, encoding="utf-8")
    afile = tmp_path / "afile"
    afile.write_text("x")
    args = [] if command == "demo" else ["--sources", str(sources)]
    for out, why in (
        (afile, "exists and is not a directory"),
        (afile / "sub", f"cannot be created: {afile} is not a directory"),
    ):
        proc = marsad(command, *args, "--out", str(out))
        assert proc.returncode == 2
        assert proc.stderr.splitlines()[-1] == (
            f"marsad {command}: error: argument --out: {out}: {why}"
        )
        assert "Traceback" not in proc.stderr


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare")
def test_out_on_a_read_only_filesystem_is_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    sources = tmp_path / "s.yaml"
    sources.write_text(SOURCES, encoding="utf-8")
    run = f"{sys.executable} -m marsad.cli run --sources {sources} --out {ro}/out"
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o ro none {ro} && exec {run}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "mount" in proc.stderr and proc.returncode != 2:
        pytest.skip(f"cannot mount a read-only tmpfs here: {proc.stderr.strip()}")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        f"marsad run: error: argument --out: {ro}/out: {ro} is on a read-only filesystem"
    )


def test_out_that_does_not_exist_yet_is_fine(tmp_path: Path) -> None:
    assert outdir.writable_out(str(tmp_path / "a" / "b")) == str(tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()  # checked, not created
    assert outdir.writable_out("s3://bucket/marsad") == "s3://bucket/marsad"  # checked on write


@pytest.mark.parametrize("name", ["typo", "empty", "afile"])
def test_compact_out_must_be_an_existing_marsad_output(name: str, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("x")
    before = sorted(tmp_path.rglob("*"))
    proc = marsad("compact", "--out", str(tmp_path / name))
    assert proc.returncode == 2
    why = {
        "typo": "no such directory",
        "empty": "not a marsad output (no articles/, mentions/, failures/ or fetch state)",
        "afile": "is not a directory",
    }[name]
    assert proc.stderr.splitlines()[-1] == (
        f"marsad compact: error: argument --out: {tmp_path / name}: {why}"
    )
    assert sorted(tmp_path.rglob("*")) == before  # nothing created, not even the lock file
