"""The process memory policy the tag stage sets after loading its models (`marsad.heap`)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from marsad.heap import reuse_freed_memory

# Allocate, fill and free a 40 MB block five times (as torch does its tensors: malloc, no
# huge-page advice); print the page faults of the last four.
PROBE = """
import ctypes, resource, sys
from marsad.heap import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = (ctypes.c_void_p,)
size = 40 << 20
def touch():
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
touch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    touch()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt's thresholds are glibc's",
)


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


@glibc
def test_a_freed_block_is_reused_without_faulting_its_pages_again() -> None:
    fresh, reused = _faults("default"), _faults("reuse")
    # 40 MB is 10,240 pages of 4 kB: mapped afresh, each of the four passes faults them all.
    assert fresh > 4 * 5_000
    assert reused < 2_000


@glibc
def test_the_setting_is_made_once_and_reports_success() -> None:
    assert reuse_freed_memory() is True
    assert reuse_freed_memory() is True
