"""Data kept for a process's life, moved out of the garbage collector's way.

The tagger's models, the watchlist and the place gazetteer are loaded once per process and
kept: with the modules they import, a few hundred thousand container objects that every full
collection walks again, while the tag stage allocates enough (tokens, entities) to trigger
such collections every few articles (issue 17: 4–5 ms of CPU an article, a tenth of the tag
stage). `gc.freeze()` moves the objects alive at that moment to a generation the collector
never walks; what is allocated later is collected as before.
"""

from __future__ import annotations

import gc


def keep_for_life() -> None:
    """Collect what is already garbage, then freeze the rest (cheap to call again).

    The cost: an object alive now that later becomes part of a reference cycle is never
    freed. Called only after loading data that lives as long as the process anyway, so that
    is at most what was alive at the few moments of loading."""
    gc.collect()
    gc.freeze()
