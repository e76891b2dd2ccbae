"""The settings file (`--settings FILE.yaml`): any Settings field, errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from marsad.settings import Settings, SettingsError, load_settings, parse_settings

WATCHLIST = """
entities:
  - id: test-baghdad
    type: LOC
    name: Baghdad
    ar: [بغداد]
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_sets_only_its_fields(tmp_path: Path) -> None:
    _write(tmp_path, "wl.yaml", WATCHLIST)
    path = _write(
        tmp_path,
        "settings.yaml",
        "# newsroom settings\n"
        "batch_size: 7\n"
        "per_host_delay_s: 2.5\n"
        "runner: processes\n"
        "ner_backend: rules\n"
        "feed_window_days: null\n"
        "allow_private_networks: yes\n"
        "watchlist: wl.yaml\n",
    )
    settings = load_settings(path)
    assert settings.batch_size == 7
    assert settings.per_host_delay_s == 2.5
    assert settings.runner == "processes"
    assert settings.ner_backend == "rules"
    assert settings.allow_private_networks is True
    # relative to the settings file's folder, made absolute for any working directory
    assert settings.watchlist == str((tmp_path / "wl.yaml").resolve())
    assert settings.timeout_s == Settings().timeout_s  # the rest: defaults
    assert settings.model_fields_set == {
        "batch_size",
        "per_host_delay_s",
        "runner",
        "ner_backend",
        "feed_window_days",
        "allow_private_networks",
        "watchlist",
    }


def test_an_empty_file_is_the_defaults(tmp_path: Path) -> None:
    assert load_settings(_write(tmp_path, "s.yaml", "# nothing yet\n")) == Settings()


def test_an_absolute_watchlist_path_is_kept(tmp_path: Path) -> None:
    wl = _write(tmp_path, "wl.yaml", WATCHLIST).resolve()
    sub = tmp_path / "conf"
    sub.mkdir()
    assert load_settings(_write(sub, "s.yaml", f"watchlist: {wl}\n")).watchlist == str(wl)


def test_unknown_key_is_named_with_file_and_line() -> None:
    with pytest.raises(SettingsError) as err:
        parse_settings("batch_size: 3\nbatch_sise: 4\n", "s.yaml")
    assert str(err.value) == "s.yaml:2: key 'batch_sise': unknown key"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("batch_size: 0\n", ["s.yaml:1: key 'batch_size':", "greater than or equal to 1"]),
        ("timeout_s: soon\n", ["s.yaml:1: key 'timeout_s':", "number"]),
        ("# c\nner_backend: spacy\n", ["s.yaml:2: key 'ner_backend':", "'crf'"]),
        ("runner: yarn\n", ["s.yaml:1: key 'runner':", "pattern"]),
        ("normalise_level: medium\n", ["s.yaml:1: key 'normalise_level':"]),
    ],
)
def test_bad_value_is_named_with_file_line_and_key(text: str, expected: list[str]) -> None:
    with pytest.raises(SettingsError) as err:
        parse_settings(text, "s.yaml")
    for part in expected:
        assert part in str(err.value)


def test_every_error_is_reported_in_file_order() -> None:
    with pytest.raises(SettingsError) as err:
        parse_settings("workers: 0\ncolour: red\nbatch_size: -1\n", "s.yaml")
    lines = str(err.value).splitlines()
    assert [line.split(": key ")[0] for line in lines] == ["s.yaml:1", "s.yaml:2", "s.yaml:3"]
    assert "'colour': unknown key" in lines[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- batch_size: 3\n", "s.yaml: expected a mapping of settings (key: value)"),
        ("just words\n", "s.yaml: expected a mapping of settings (key: value)"),
        ("batch_size: [\n", "s.yaml: not valid YAML"),
        ("batch_size: 3\nworkers: 2\nbatch_size: 4\n", "s.yaml:3: key 'batch_size': given twice"),
    ],
)
def test_not_a_mapping_bad_yaml_and_repeated_keys(text: str, expected: str) -> None:
    with pytest.raises(SettingsError) as err:
        parse_settings(text, "s.yaml")
    assert str(err.value).startswith(expected)


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SettingsError) as err:
        load_settings(missing)
    assert str(err.value) == f"{missing}: no such settings file"


def test_the_watchlist_it_names_is_checked_at_load_time(tmp_path: Path) -> None:
    path = _write(tmp_path, "s.yaml", "batch_size: 3\nwatchlist: missing.yaml\n")
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert str(err.value).startswith(f"{path}:2: key 'watchlist': ")
    assert "missing.yaml: no such watchlist file" in str(err.value)

    _write(tmp_path, "bad-wl.yaml", WATCHLIST.replace("type: LOC", "type: CITY"))
    path = _write(tmp_path, "s2.yaml", "watchlist: bad-wl.yaml\n")
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert f"{path}:1: key 'watchlist': " in str(err.value)
    assert "'test-baghdad'" in str(err.value) and "'type'" in str(err.value)
