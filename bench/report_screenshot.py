"""docs/report.png: `marsad report` of an output, as headless Chromium draws it (offline).

    .venv/bin/marsad demo --out ./data
    .venv/bin/python bench/report_screenshot.py ./data            # writes docs/report.png

Chromium runs without a network (`unshare -n`) when the kernel allows it, so the picture is
also a check that the page needs nothing from outside the file.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from marsad.report_html import main as report_main

MAX_BYTES = 500_000  # a picture for the README, not a blob in the history


def chromium(*args: str) -> list[str]:
    exe = shutil.which("chromium")
    if exe is None:
        sys.exit("chromium is not installed (apt-get install chromium)")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$@"', "sh", *cmd]
    return cmd


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="a marsad output (e.g. from `marsad demo`)")
    ap.add_argument("--png", default="docs/report.png", help="where the screenshot goes")
    ap.add_argument("--size", default="1200,2400", help="window WIDTH,HEIGHT in pixels")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        if report_main(args.out, None, None, None, str(page)) != 0:
            return 1
        png = Path(args.png).absolute()
        shot = chromium(f"--screenshot={png}", f"--window-size={args.size}", page.as_uri())
        subprocess.run(shot, check=True, capture_output=True, timeout=180)
    size = png.stat().st_size
    print(f"{png}: {size} bytes")
    if size > MAX_BYTES:
        print(f"larger than {MAX_BYTES} bytes: use a smaller --size", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
