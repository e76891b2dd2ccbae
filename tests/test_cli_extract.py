"""`marsad extract`: every input gives one JSON line, bad ones an "error", and the next goes on."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOOD = REPO / "seeds" / "demo" / "articles" / "oil-prices.html"
# Runs the CLI in a child and reports the child's own peak RSS (KiB) on stderr's last line.
PEAK = (
    "import resource, sys\n"
    "from marsad.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def extract(*inputs: str) -> tuple[list[dict[str, object]], str, int, int]:
    """(JSON lines, stderr, exit status, peak RSS in KiB) of `marsad extract INPUTS`."""
    proc = subprocess.run(
        [sys.executable, "-c", PEAK, "extract", *inputs],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    *rest, peak = proc.stderr.strip().splitlines() or ["0"]
    return lines, "\n".join(rest), proc.returncode, int(peak)


def gzip_bomb(mib: int) -> bytes:
    """A valid gzip file of `mib` MiB of zeros, ~1 KiB per MiB, built without inflating it."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(bytes(1 << 20)) + co.flush(zlib.Z_FULL_FLUSH)  # position-independent
    crc, zeros = 0, bytes(1 << 20)
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    trailer = struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + block * mib + co.flush() + trailer


def test_a_page_naming_a_python_codec_is_one_error_line_and_the_next_page_still_runs(
    tmp_path: Path,
) -> None:
    hex_page = tmp_path / "hex.html"
    hex_page.write_bytes(b'<html><head><meta charset="hex"></head><body><nav>x</nav></body></html>')
    good = tmp_path / "good.html"
    good.write_bytes(GOOD.read_bytes())
    lines, stderr, status, _ = extract(str(hex_page), str(good))
    assert "Traceback" not in stderr
    assert [set(line) for line in lines] == [
        {"url", "error"},
        {"url", "title", "author", "published_at", "language", "text"},
    ]
    assert lines[0]["url"] == str(hex_page)
    assert str(lines[1]["title"]).startswith("أسعار النفط")
    assert status == 1


def test_a_hex_meta_is_ignored_and_the_page_decodes_as_utf8(tmp_path: Path) -> None:
    page = tmp_path / "hex-article.html"
    page.write_bytes(GOOD.read_bytes().replace(b'charset="utf-8"', b'charset="hex"'))
    assert b'charset="hex"' in page.read_bytes()
    lines, stderr, status, _ = extract(str(page))
    assert status == 0 and "Traceback" not in stderr
    assert "أوبك" in str(lines[0]["text"])


def test_hostile_files_are_error_lines_with_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip_bomb(1024))  # 1 MB that inflates to 1 GiB
    assert bomb.stat().st_size < 1_200_000
    fake = tmp_path / "fake.gz"
    fake.write_bytes(b"<html>not gzip at all</html>")
    binary = tmp_path / "binary.html"
    binary.write_bytes(bytes(range(256)) * 40)
    folder = tmp_path / "folder"
    folder.mkdir()
    good_gz = tmp_path / "good.html.gz"
    good_gz.write_bytes(zlib.compress(GOOD.read_bytes(), wbits=31))
    inputs = [bomb, Path("/dev/zero"), fake, binary, folder, tmp_path / "missing.html", good_gz]
    lines, stderr, status, peak = extract(*map(str, inputs))
    assert "Traceback" not in stderr
    assert [line["url"] for line in lines] == list(map(str, inputs))
    errors = [str(line.get("error")) for line in lines]
    assert "inflates past 10000000 bytes" in errors[0]
    assert errors[1] == "too large: more than 10000000 bytes"
    assert errors[2].startswith("bad gzip data")
    assert errors[3] == "not parseable as HTML"
    assert errors[4] == "cannot read: Is a directory"
    assert errors[5] == "cannot read: No such file or directory"
    assert "error" not in lines[6] and "أوبك" in str(lines[6]["text"])
    assert status == 1
    _, _, _, baseline = extract(str(GOOD))
    # Unbounded, the bomb alone would need 1 GiB; bounded, it costs max_body_bytes and change.
    assert peak < baseline + 150_000, (peak, baseline)
