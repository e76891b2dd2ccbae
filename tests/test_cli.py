from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def marsad(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marsad.cli", *args], capture_output=True, text=True, timeout=300
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
