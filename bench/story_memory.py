"""What a writer's StoryBook keeps in memory as the dataset ages (issue 15: bounded by the
window, not by the dataset's age).

Stores a long synthetic stream (bench/story_cost.py's story-shaped docs, as Articles) day by
day through the real Writer, one batch a day, and prints at each checkpoint the StoryBook's
retained entries (its own tables, the matcher index apart), their deep size, the process RSS
and the time a batch takes. At the end a new Writer (a restart) stores one more day, and then
a backfill of the stream's second day, and prints the same for it.

    python bench/story_memory.py [--articles 100000] [--live 1000] [--at 1000 10000 30000]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from story_cost import stream

from marsad.record import Article, Entity
from marsad.story_match import StoryDoc
from marsad.writer import Writer


def to_article(doc: StoryDoc, shift: timedelta = timedelta(0), tag: str = "") -> Article:
    url = f"http://bench.test/{doc.article_id}{tag}"
    ents = []
    for key in doc.entities:
        label, norm = key.split(":", 1)
        ents.append(Entity(norm, norm, label, 0, len(norm)))
    text = f"{doc.title}. {doc.text_norm}"
    return Article(
        url=url,
        source=doc.source,
        fetched_at=doc.when + shift,
        canonical_url=url,
        article_id=f"{doc.article_id}{tag}",
        title=doc.title,
        published_at=doc.when + shift,
        language="ar",
        text=text,
        text_norm=text,
        entities=ents,
        run_id="bench",
    )


def _sized(value: object) -> Iterable[object]:
    if isinstance(value, dict):
        return list(value.keys()) + list(value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in dataclasses.fields(value)]
    return ()


def deep_size(root: object) -> int:
    """Bytes reachable from `root` (containers, dataclasses, their keys and values)."""
    seen: set[int] = set()
    todo = [root]
    total = 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        todo.extend(_sized(obj))
    return total


def entries(book: Any) -> dict[str, int]:
    """Entries per table of the book (nested tables of a per-file entry counted in)."""
    out: dict[str, int] = {}
    for f in dataclasses.fields(book):
        value = getattr(book, f.name)
        if f.name == "index" or not isinstance(value, dict | set | list):
            continue
        n = len(value)
        if isinstance(value, dict):
            for v in value.values():
                parts = _sized(v) if isinstance(v, tuple) or dataclasses.is_dataclass(v) else ()
                n += sum(len(p) for p in parts if isinstance(p, dict | set | list))
        out[f.name] = n
    return out


def rss_mib() -> tuple[float, float]:
    now = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return now, peak


def report(label: str, writer: Writer, took: list[float]) -> None:
    book = writer._stories
    counts = entries(book)
    parts = {f.name: getattr(book, f.name) for f in dataclasses.fields(book) if f.name != "index"}
    now, peak = rss_mib()
    took = sorted(took)
    median = took[len(took) // 2] * 1000 if took else 0.0
    out = writer.loc.path("stories")
    files = len(list(Path(out).glob("date=*/*.parquet")))
    print(
        f"{label}: book entries {sum(counts.values()):,} {counts}; "
        f"book deep size {deep_size(parts) / 2**20:.1f} MiB; "
        f"index live stories {len(book.index.stories):,}, aliases {len(book.index._alias):,}; "
        f"stories files {files}; RSS {now:.0f} MiB (peak {peak:.0f}); "
        f"store median {median:.0f} ms/batch",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--live", type=int, default=1000, help="stories opening per 72 hours")
    ap.add_argument("--at", type=int, nargs="*", default=[1000, 10_000, 30_000])
    args = ap.parse_args()
    docs = stream(args.articles, live=args.live)
    by_day: dict[object, list[StoryDoc]] = {}
    for doc in docs:
        by_day.setdefault(doc.when.date(), []).append(doc)
    days = sorted(by_day)
    print(f"{len(docs):,} articles over {len(days)} days (live={args.live})", flush=True)
    marks = sorted({*args.at, len(docs)})
    with tempfile.TemporaryDirectory() as tmp:
        writer = Writer(tmp)
        stored, took, seq = 0, [], 0
        t0 = time.perf_counter()
        for day in days:
            batch = [to_article(d) for d in by_day[day]]
            t = time.perf_counter()
            writer.store(batch, [], "bench", seq)
            took.append(time.perf_counter() - t)
            seq += 1
            before, stored = stored, stored + len(batch)
            for mark in marks:
                if before < mark <= stored:
                    report(f"{stored:>7,} articles, day {day}", writer, took)
        print(f"stream stored in {time.perf_counter() - t0:.0f} s", flush=True)
        # a restart: a new writer stores the next day (its stories continue the stream's)
        last = days[-1]
        again = Writer(tmp)
        tail = [to_article(d, timedelta(days=1), "-next") for d in by_day[last][:200]]
        t = time.perf_counter()
        again.store(tail, [], "bench", seq)
        report("restart, next day", again, [time.perf_counter() - t])
        # a backfill of the stream's second day: its old stories are found and updated
        old = [to_article(d, tag="-late") for d in by_day[days[1]][:200]]
        t = time.perf_counter()
        again.store(old, [], "bench", seq + 1)
        report(f"restart, backfill of {days[1]}", again, [time.perf_counter() - t])


if __name__ == "__main__":
    main()
