"""A day of 15-minute runs: files per partition, store time per run, scan time, compaction.

Simulates RUNS runs of ARTICLES articles each into one date partition (synthetic Arabic text
of about 400 words per article, two mentions each), then compacts.

    python bench/store_runs.py [--runs 96] [--articles 10]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from marsad.compact import compact
from marsad.record import Article, Entity
from marsad.urls import article_id_for
from marsad.writer import Writer

WORDS = (  # noqa: SIM905
    "قال وزير الخارجية إن المحادثات في بغداد تناولت التعاون الاقتصادي والأمن الإقليمي وأكد أن "
    "الجانبين اتفقا على مواصلة الحوار خلال الأسابيع المقبلة بحضور ممثلين عن الأمم المتحدة"
).split()


def _article(run: int, i: int, rng: random.Random) -> Article:
    url = f"http://bench.test/{run}/{i}"
    text = "فؤاد حسين في بغداد. " + " ".join(rng.choices(WORDS, k=400))
    when = datetime(2026, 1, 3, tzinfo=UTC) + timedelta(minutes=15 * run + i)
    return Article(
        url=url,
        source=f"s{i % 5}",
        fetched_at=when,
        canonical_url=url,
        article_id=article_id_for(url),
        title=f"خبر {run} {i}",
        published_at=when,
        language="ar",
        text=text,
        text_norm=text,
        entities=[
            Entity("فؤاد حسين", "فؤاد حسين", "PERS", 0, 9),
            Entity("بغداد", "بغداد", "LOC", 13, 18),
        ],
        run_id=f"run{run}",
    )


def _scan(out: Path) -> tuple[int, float]:
    t = time.perf_counter()
    n = (
        pl.scan_parquet(f"{out}/articles/**/*.parquet", hive_partitioning=True)
        .select(pl.len())
        .collect()
        .item()
    )
    return n, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=96)
    ap.add_argument("--articles", type=int, default=10)
    args = ap.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        times = []
        for run in range(args.runs):
            batch = [_article(run, i, rng) for i in range(args.articles)]
            t = time.perf_counter()
            Writer(out).store(batch, [], f"run{run}", 0)  # a new process's writer each run
            times.append(time.perf_counter() - t)
        files = len(list((out / "articles" / "date=2026-01-03").glob("*.parquet")))
        n, scan = _scan(out)
        t = time.perf_counter()
        report = compact(out)
        took = time.perf_counter() - t
        n2, scan2 = _scan(out)
        times.sort()
        print(f"{args.runs} runs x {args.articles} articles: {n} rows, {files} files in the day")
        print(
            f"store per run: median {times[len(times) // 2] * 1000:.0f} ms, "
            f"max {times[-1] * 1000:.0f} ms"
        )
        print(f"count(*) scan: {scan * 1000:.0f} ms before compaction, {scan2 * 1000:.0f} ms after")
        print(f"compaction: {took * 1000:.0f} ms ({report}); rows after {n2}")


if __name__ == "__main__":
    main()
