"""Kill -9 a writer at random moments, many times; after each kill, look as a reader would.

Usage: python crash_driver.py OUT KILLS SEED. Imports once, then forks a writer child per
round (stores, re-processes, compacts at random) and SIGKILLs it after a random delay. Prints
one JSON object: what each check saw and the state after a final, complete run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow.parquet as pq
from storefactory import article, failure

from marsad.compact import compact
from marsad.transaction import JOURNAL, RETIRED, STAGING
from marsad.writer import Writer

N = 40  # distinct articles; every round draws from them, so runs overlap and re-process


def writer_loop(out: str, seed: int) -> None:
    rng = random.Random(seed)
    w = Writer(out)
    for seq in range(10_000):
        op = rng.random()
        if op < 0.15:
            compact(out)
            continue
        replace = op < 0.45
        ids = rng.sample(range(N), 6)
        # re-processing may move an article to another date partition
        shift = seed if replace else 0
        arts = [article(i, day=1 + (i + shift) % 3, run_id=f"k{seed}") for i in ids]
        fails = [failure(f"http://x/{seed}/{seq}", day=1 + seq % 3)] if op > 0.9 else []
        w.store(arts, fails, f"k{seed}", seq, replace=replace)


def look(out: Path) -> dict[str, object]:
    """Read every visible Parquet file, as a glob reader would; raises if one is unreadable."""
    ids: list[str] = []
    mentions = 0
    for p in sorted(out.glob("*/date=*/*.parquet")):
        table = pq.read_table(p)
        if p.parts[-3] == "articles":
            ids += table.column("article_id").to_pylist()
        elif p.parts[-3] == "mentions":
            mentions += table.num_rows
    pending = [c for c in (out / STAGING).glob("*") if c.name != RETIRED]
    debris = bool(pending) or any((out / JOURNAL).glob("*"))
    datasets = ("articles", "mentions", "failures", "stories")
    stray, staged = [], 0
    for p in out.rglob("*.parquet"):
        rel = p.relative_to(out).parts
        if rel[:2] == (STAGING, RETIRED):
            continue  # swapped-out partitions during their grace period
        if rel[0] == STAGING:
            staged += 1  # only between a partition's last rename and its swap
        elif rel[0] not in datasets or len(rel) != 3 or not rel[1].startswith("date="):
            stray.append(str(p))
    return {
        "rows": len(ids),
        "duplicates": len(ids) - len(set(ids)),
        "mentions": mentions,
        "interrupted": debris,
        "stray": stray,
        "staged_parquet": staged,
    }


def main() -> None:
    out, kills, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    checks = []
    warm = out.with_name(out.name + "-warmup")  # load lazy imports once, before forking
    Writer(warm).store([article(i) for i in range(3)], [], "warm", 0)
    compact(warm)
    for k in range(kills):
        pid = os.fork()
        if pid == 0:
            try:
                writer_loop(str(out), seed * 1000 + k)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.05, 0.5))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        checks.append(look(out))
    # the next run: completes, recovers whatever the last kill interrupted
    Writer(out).store([article(i, day=1 + i % 3, run_id="final") for i in range(N)], [], "final", 0)
    print(json.dumps({"checks": checks, "final": look(out), "n": N}))


if __name__ == "__main__":
    main()
