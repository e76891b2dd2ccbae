#!/usr/bin/env bash
# Creates .venv and installs marsad with its test tools.
# torch is installed first and pinned by constraints.txt: camel-tools needs it, and an
# unpinned torch makes pip download a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt "torch==2.13.0"
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
echo "installed: $(.venv/bin/marsad --help | head -1)"
