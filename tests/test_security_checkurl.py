"""`marsad check-url`: the guard's verdict from the command line, without connecting."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_netguard import REFUSED_WITH_FLAG, REFUSED_WITHOUT_FLAG


def check_url(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marsad.cli", "check-url", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _url(addr: str) -> str:
    return f"http://[{addr}]/" if ":" in addr else f"http://{addr}/"


@pytest.mark.parametrize("addr", REFUSED_WITHOUT_FLAG + REFUSED_WITH_FLAG)
def test_issue_13_addresses_are_refused_without_the_flag(addr: str) -> None:
    proc = check_url(_url(addr))
    assert proc.returncode == 1, proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("refused: ")
    assert f"  {addr}: refused" in proc.stdout or "embeds" in proc.stdout


@pytest.mark.parametrize("addr", [*REFUSED_WITH_FLAG, "100.100.100.200", "2002:7f00:1::"])
def test_issue_13_addresses_are_refused_with_the_flag(addr: str) -> None:
    proc = check_url(_url(addr), "--allow-private-networks")
    assert proc.returncode == 1, proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("refused: ")


def test_a_name_is_resolved_and_each_address_shown() -> None:
    proc = check_url("http://localhost:8080/news")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "url: http://localhost:8080/news"
    assert lines[1] == "host: localhost, port 8080"
    assert "  127.0.0.1: refused: loopback address 127.0.0.1;" in proc.stdout
    assert lines[-1].startswith("refused: loopback address ")  # 127.0.0.1 or ::1, first answer
    assert lines[-1].endswith(" (localhost); --allow-private-networks allows it")
    opened = check_url("http://127.0.0.1:8080/news", "--allow-private-networks")
    assert opened.returncode == 0
    assert opened.stdout.splitlines()[-1] == "allowed: http://127.0.0.1:8080/news"


def test_a_global_address_is_allowed() -> None:
    proc = check_url("https://[2606:4700:4700::1111]/x")  # a literal: no DNS, no connection
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[-2:] == [
        "  2606:4700:4700::1111: allowed",
        "allowed: https://[2606:4700:4700::1111]/x",
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/x", "refused: scheme 'ftp'"),
        ("file:///etc/passwd", "refused: scheme 'file'"),
        ("http://example.org:99999/", "refused: invalid URL: Port out of range"),
        ("http://[::1/", "refused: invalid URL"),
        ("http:///nohost", "refused: URL has no host"),
        ("http://[::ffff:169.254.169.254]/", "refused: link-local address"),
        ("http://0177.0.0.1/", "refused: invalid URL"),  # passes the guard; httpx refuses it
        ("http://169.254.169.254.nip.io.invalid:0x50/", "refused: invalid URL"),
    ],
)
def test_refusals_say_why(url: str, reason: str) -> None:
    proc = check_url(url, "--allow-private-networks")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1].startswith(reason), proc.stdout


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://2130706433/", "refused: loopback address 127.0.0.1 (2130706433)"),
        ("http://0x7f.1/", "refused: loopback address 127.0.0.1 (0x7f.1)"),
        ("http://0177.0.0.1/", "refused: loopback address 127.0.0.1 (0177.0.0.1)"),
        ("http://user:pw@127.0.0.1:80/", "refused: loopback address 127.0.0.1"),
    ],
)
def test_odd_ipv4_spellings_are_resolved_before_the_check(url: str, reason: str) -> None:
    proc = check_url(url)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1].startswith(reason), proc.stdout


def test_check_url_requires_a_url() -> None:
    proc = check_url()
    assert proc.returncode == 2
    assert "url" in proc.stderr
