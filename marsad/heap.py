"""Data kept for a process's life, moved out of the garbage collector's way.

The tagger's models, the watchlist and the place gazetteer are loaded once per process and
kept: with the modules they import, a few hundred thousand container objects that every full
collection walks again, while the tag stage allocates enough (tokens, entities) to trigger
such collections every few articles (issue 17: 4–5 ms of CPU an article, a tenth of the tag
stage). `gc.freeze()` moves the objects alive at that moment to a generation the collector
never walks; what is allocated later is collected as before.

The same stage also allocates and frees arrays of a few MB to tens of MB per pass (the
network's gate inputs and states, the CRF's score blocks). glibc hands such blocks back to the
kernel when freed and maps fresh pages for the next pass; each page then faults on first touch,
which on a virtual machine costs more than the arithmetic that fills it (issue 17: ~100k faults
and 1–3 ms of system time an article on a Firecracker VM). `reuse_freed_memory` keeps them.
"""

from __future__ import annotations

import ctypes
import gc
import sys
from functools import cache

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
# Blocks below this come from the heap and are reused when freed; the tag stage's largest are
# bounded by `marsad.entities.CHUNK_CHARS` (a pass holds ~70 MB in all).
KEEP_BLOCKS_BELOW = 256 << 20


def keep_for_life() -> None:
    """Collect what is already garbage, then freeze the rest (cheap to call again).

    The cost: an object alive now that later becomes part of a reference cycle is never
    freed. Called only after loading data that lives as long as the process anyway, so that
    is at most what was alive at the few moments of loading."""
    gc.collect()
    gc.freeze()


@cache
def reuse_freed_memory() -> bool:
    """Ask glibc to keep freed blocks up to `KEEP_BLOCKS_BELOW` for reuse (once per process);
    False where the C library has no such setting (not Linux, or musl's no-op).

    The cost: the process holds its high-water mark of such blocks instead of returning it,
    at most about one pass of the tag stage."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    # The map threshold first: setting either turns off glibc's sliding thresholds, and a
    # trim threshold alone would leave every block over 128 kB mapped afresh.
    kept = mallopt(M_MMAP_THRESHOLD, KEEP_BLOCKS_BELOW)
    return bool(kept) and bool(mallopt(M_TRIM_THRESHOLD, 2 * KEEP_BLOCKS_BELOW))
