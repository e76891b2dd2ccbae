"""Throughput of the CPU stages (extract → normalise → tag → write) with and without Prefect.

    python bench/throughput.py [--n 1000] [--batch 50] [--rss 1000,10000] [--data DIR]

Pages are the benchmark pages (ScrapingHub, trafilatura-eval, the Arabic pages), decoded
once and cycled; each article gets its own URL so none is deduplicated away. Modes:

* bare: trafilatura.extract() on the same pages, one process (the reference);
* plain: the stage functions batch by batch, one process;
* prefect: the production Prefect tasks in a flow (`process`, then `store`), one task run each
  per batch;
* pool: plain batches over a process pool of --workers (default: every core), with
  per-core utilisation sampled while it runs;
* rss: the pool mode in a fresh process for each N in --rss, reporting its peak RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from itertools import cycle, islice
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _private_prefect  # noqa: F401  (before prefect is imported)
from _common import arabic_pages, data_root, scrapinghub, trafilatura_eval

from marsad.charset import decode
from marsad.record import Article, FeedItem
from marsad.settings import Settings

_HTML: list[str] = []  # the decoded pages, per process
SETTINGS = Settings()  # per process; --crf-only sets ner_neural=False
TAGGER: Any = None  # --ner-reference or --ner-model: the tagger the plain mode uses


class ArticleByArticle:
    """A tagger seen only through `tag`, so the tag stage calls it once per article as it did
    before issue 17 (no `tag_docs`: `marsad.ner.backends.tag_docs` falls back to `tag`)."""

    def __init__(self, tagger: Any) -> None:
        self.tagger = tagger
        self.neural = tagger.neural
        self.featurizer = tagger.featurizer

    def tag(self, sentences: Any) -> Any:
        return self.tagger.tag(sentences)


def load_pages(root: Path, limit: int | None = None) -> list[str]:
    pages = [*scrapinghub(root), *trafilatura_eval(root), *arabic_pages(root)]
    # Interleave the sets so any prefix of the cycle mixes them.
    pages.sort(key=lambda p: p.name[::-1])
    return [decode(p.raw, "text/html") for p in pages[:limit]]


def articles(start: int, n: int, pages: list[str]) -> Iterator[Article]:
    """Articles start..start+n as fetch hands them over from a feed (with its date), lazily."""
    now = datetime.now(UTC)
    for i, html in enumerate(islice(cycle(pages), start % len(pages), None)):
        if i >= n:
            return
        url = f"https://bench.invalid/a/{start + i}"
        feed = FeedItem(url=url, source="bench", feed_published_at=now)
        yield Article(url=url, source="bench", fetched_at=now, html=html, final_url=url, feed=feed)


def run_batch_plain(start: int, n: int, out: str, seq: int) -> int:
    """extract → normalise → tag → write for one batch, plain functions; returns rows written."""
    from marsad.entities import tag_articles
    from marsad.extract import extract_articles
    from marsad.store import store_articles, write_failures
    from marsad.text.arabic import normalise_articles

    c = time.process_time()
    extracted, f1 = extract_articles(articles(start, n, _HTML))
    c = _tick("extract", c)
    normalised = normalise_articles(extracted)
    c = _tick("normalise", c)
    tagged, f2 = tag_articles(normalised, tagger=TAGGER, settings=SETTINGS)
    c = _tick("tag", c)
    stored, _ = store_articles(tagged, set(), Path(out), "bench", seq)
    if f1 or f2:
        write_failures(f1 + f2, Path(out), "bench", seq)
    _tick("write", c)
    return len(stored) + len(f1) + len(f2)


STAGE_CPU: dict[str, float] = {}  # CPU seconds per stage in this process (plain mode)


def _tick(stage: str, since: float) -> float:
    now = time.process_time()
    STAGE_CPU[stage] = STAGE_CPU.get(stage, 0.0) + now - since
    return now


def _init_worker(root: str, limit: int | None, neural: bool) -> None:
    global _HTML, SETTINGS
    _HTML = load_pages(Path(root), limit)
    SETTINGS = Settings(ner_neural=neural)
    from marsad.ner.backends import tagger_for

    tagger_for(SETTINGS.ner_backend, neural)  # once per process, before the clock matters


def _pool_batch(args: tuple[int, int, str, int]) -> int:
    return run_batch_plain(*args)


def _warm(_: int) -> int:
    """Import every stage (and what they import on first use) before timing starts, and load
    what a stage reads once per process: the tag stage's place gazetteer is read on the first
    LOC mention, which the two warm-up articles may not have (it then cost the first timed
    batch 0.2 s of CPU or more with the collection after it, over 1 ms an article at --n 150,
    for either tagger)."""
    from marsad.linking import load_linker
    from marsad.places import gazetteer

    with tempfile.TemporaryDirectory() as out:
        run_batch_plain(0, 2, out, 0)
    load_linker(SETTINGS.watchlist)
    gazetteer()
    return os.getpid()


Timing = tuple[float, float]  # (wall seconds, CPU seconds of this process)


def _clock() -> Timing:
    return time.perf_counter(), time.process_time()


def _since(t0: Timing) -> Timing:
    return time.perf_counter() - t0[0], time.process_time() - t0[1]


def bare(n: int) -> Timing:
    import trafilatura

    t0 = _clock()
    for art in articles(0, n, _HTML):
        trafilatura.extract(art.html, url=art.final_url)
    return _since(t0)


def plain(n: int, batch: int, out: str) -> Timing:
    t0 = _clock()
    for seq, start in enumerate(range(0, n, batch)):
        run_batch_plain(start, min(batch, n - start), out, seq)
    return _since(t0)


def prefect_flow(n: int, batch: int, out: str) -> tuple[Timing, float]:
    """Returns (timing inside the flow, wall seconds including flow start-up)."""
    from prefect import flow

    from marsad.tasks.process import process_task
    from marsad.tasks.store import store_task

    inner: dict[str, Timing] = {}

    @flow(name="bench-cpu-stages")
    def cpu_stages() -> None:
        t0 = _clock()
        seen: set[str] = set()
        for seq, start in enumerate(range(0, n, batch)):
            batch_articles = list(articles(start, min(batch, n - start), _HTML))
            tagged, failed = process_task(batch_articles, SETTINGS)
            store_task(tagged, failed, seen, out, "bench", seq)
        inner["s"] = _since(t0)

    t0 = time.perf_counter()
    cpu_stages()
    return inner["s"], time.perf_counter() - t0


def _cpu_sampler(stop: threading.Event, samples: list[list[float]]) -> None:
    import psutil

    psutil.cpu_percent(percpu=True)
    while not stop.wait(0.5):
        samples.append(psutil.cpu_percent(percpu=True))


def _cpu_seconds(pids: list[int]) -> list[float]:
    import psutil

    return [sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids]


def pool(
    n: int, batch: int, out: str, workers: int, root: str, limit: int | None
) -> tuple[float, int, list[float], list[float]]:
    """(wall seconds, rows, machine per-core busy %, each worker's CPU % of the wall time)."""
    samples: list[list[float]] = []
    stop = threading.Event()
    init = (root, limit, SETTINGS.ner_neural)
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=init) as ex:
        list(ex.map(_warm, range(workers)))  # workers up, models loaded, before the clock
        pids = list(ex._processes)  # the bench may peek: it needs each worker's CPU time
        sampler = threading.Thread(target=_cpu_sampler, args=(stop, samples), daemon=True)
        sampler.start()
        cpu0 = _cpu_seconds(pids)
        t0 = time.perf_counter()
        jobs = ((s, min(batch, n - s), out, seq) for seq, s in enumerate(range(0, n, batch)))
        rows = sum(ex.map(_pool_batch, jobs))
        secs = time.perf_counter() - t0
        cpu1 = _cpu_seconds(pids)
        stop.set()
        sampler.join()
    machine = [sum(col) / len(col) for col in zip(*samples, strict=True)] if samples else []
    mine = [(b - a) / secs * 100 for a, b in zip(cpu0, cpu1, strict=True)]
    return secs, rows, machine, mine


def _peak_rss_child(n: int, args: argparse.Namespace) -> tuple[float, float]:
    """Run the pool mode for n articles in a new process; its peak RSS (MiB) and seconds."""
    code = (
        "import sys, resource; sys.argv=['x']; "
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import throughput as t; "
        f"t.SETTINGS = t.Settings(ner_neural={SETTINGS.ner_neural}); "
        f"secs = t.rss_probe({n}, {args.batch}, {args.workers}, {args.data_root!r}, {args.limit}); "
        "print(secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    secs, own, kids = res.stdout.split()[-3:]
    return max(int(own), int(kids)) / 1024, float(secs)


def rss_probe(n: int, batch: int, workers: int, root: str, limit: int | None) -> float:
    with tempfile.TemporaryDirectory() as out:
        secs, *_ = pool(n, batch, out, workers, root, limit)
    return secs


def main(argv: list[str] | None = None) -> None:
    global _HTML, SETTINGS, TAGGER
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="benchmark root (default ../shared/bench or $MARSAD_BENCH_DATA)")
    ap.add_argument("--n", type=int, default=1000, help="articles per mode")
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--limit", type=int, default=300, help="distinct pages to cycle (0: all)")
    ap.add_argument(
        "--rss", default="1000,10000", help="N values for the peak-RSS runs ('' = skip)"
    )
    ap.add_argument("--modes", default="bare,plain,prefect,pool", help="comma-separated subset")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat bare/plain/prefect this many times, interleaved; medians are reported",
    )
    ap.add_argument("--crf-only", action="store_true", help="tag with the CRF alone (no BiLSTM)")
    ap.add_argument(
        "--ner-reference",
        action="store_true",
        help="plain mode tags with Tagger(fast=False), one tag() call per article: the path "
        "before issue 17's speed-up",
    )
    ap.add_argument(
        "--ner-model",
        type=Path,
        default=None,
        metavar="DIR",
        help="the model files to load instead of the bundled ones: with --ner-reference, for "
        "the reference path (e.g. those of an earlier commit, for the path and model from "
        "before); without it, for the fast path (a candidate model, timed as shipped)",
    )
    args = ap.parse_args(argv)
    SETTINGS = Settings(ner_neural=not args.crf_only)
    args.data_root = str(data_root(args.data))
    args.limit = args.limit or None
    modes = set(args.modes.split(","))

    _HTML = load_pages(Path(args.data_root), args.limit)
    from marsad.ner.backends import tagger_for

    tagger = tagger_for(SETTINGS.ner_backend, SETTINGS.ner_neural)
    if args.ner_reference:
        from marsad.ner.model import Tagger
        from marsad.ner.resources import DATA_DIR

        model = args.ner_model or DATA_DIR
        tagger = TAGGER = ArticleByArticle(Tagger(model, neural=SETTINGS.ner_neural, fast=False))
        print(f"reference tagger: {model}")
    elif args.ner_model:
        from marsad.heap import keep_for_life, reuse_freed_memory
        from marsad.ner.model import Tagger

        tagger = TAGGER = Tagger(args.ner_model, neural=SETTINGS.ner_neural)
        keep_for_life()  # as `load_default_tagger` does for the bundled model
        reuse_freed_memory()
        print(f"fast tagger: {args.ner_model}")
    _warm(0)
    print(f"pages cycled: {len(_HTML)}; N={args.n}; batch={args.batch}; cores={os.cpu_count()}")
    network = "CRF + BiLSTM" if getattr(tagger, "neural", None) is not None else "CRF alone"
    print(f"tagger: {type(tagger).__module__}.{type(tagger).__name__} ({network})")
    n = args.n
    rows: dict[str, Timing] = {}
    per_core: list[float] = []
    mine: list[float] = []
    runs: dict[str, list[Timing]] = {}
    stage_runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            if "bare" in modes:
                runs.setdefault("bare", []).append(bare(n))
            if "plain" in modes:
                STAGE_CPU.clear()
                runs.setdefault("plain", []).append(plain(n, args.batch, f"{tmp}/p{r}"))
                stage_runs.append(dict(STAGE_CPU))
            if "prefect" in modes:
                inner, outer = prefect_flow(n, args.batch, f"{tmp}/f{r}")
                runs.setdefault("prefect", []).append(inner)
                runs.setdefault("prefect+startup", []).append((outer, float("nan")))
        rows = {k: (median(t[0] for t in v), median(t[1] for t in v)) for k, v in runs.items()}
        stage_cpu = (
            {k: median(r[k] for r in stage_runs) for k in stage_runs[0]} if stage_runs else {}
        )
        if args.rounds > 1:
            for k, v in runs.items():
                print(
                    f"{k}: articles/s per round (wall): " + ", ".join(f"{n / w:.1f}" for w, _ in v)
                )
        if "pool" in modes:
            secs, done, per_core, mine = pool(
                n, args.batch, tmp + "/q", args.workers, args.data_root, args.limit
            )
            assert done == n, (done, n)
            rows["pool"] = (secs, float("nan"))
    labels = {
        "bare": "bare trafilatura extract(), 1 process",
        "plain": "marsad stages, plain functions, 1 process",
        "prefect": "marsad stages, Prefect process + store tasks per batch, 1 process",
        "prefect+startup": "  same, including flow and server start-up",
        "pool": f"marsad stages, plain, pool of {args.workers} processes",
    }
    print("\n| mode | articles/s (wall) | articles per CPU-second |\n|---|---|---|")
    for key, (wall, cpu) in rows.items():
        per_cpu = f"{n / cpu:.1f}" if cpu == cpu else "-"
        print(f"| {labels[key]} | {n / wall:.1f} | {per_cpu} |")
    if "plain" in rows:
        print("\nplain mode, CPU ms per article by stage: ", end="")
        print(", ".join(f"{k} {v / n * 1000:.1f}" for k, v in stage_cpu.items()))
    if "bare" in rows and "plain" in rows:
        w = rows["bare"][0] / rows["plain"][0]
        c = rows["bare"][1] / rows["plain"][1]
        print(f"\nratio plain / bare extraction: {w:.2f} wall, {c:.2f} CPU (goal >= 0.8)")
    if "plain" in rows and "prefect" in rows:
        pairs = list(zip(runs["plain"], runs["prefect"], strict=True))
        w = median(f[0] / p[0] - 1 for p, f in pairs)
        c = median(f[1] / p[1] - 1 for p, f in pairs)
        print(
            f"Prefect overhead (median of {len(pairs)} paired rounds): "
            f"{w * 100:.1f}% wall, {c * 100:.1f}% CPU (goal <= 10%)"
        )
    if "pool" in rows:
        print("pool workers' CPU time / wall time: ", end="")
        print(", ".join(f"{c:.0f}%" for c in mine))
        print("per-core busy during the pool run (whole machine, all users): ", end="")
        print(", ".join(f"{c:.0f}%" for c in per_core))
        print(f"whole machine: {n / rows['pool'][0]:.1f} articles/s (goal >= 100)")
    sizes = [int(x) for x in args.rss.split(",") if x]
    peaks = {}
    for size in sizes:
        peaks[size], secs = _peak_rss_child(size, args)
        rate = size / secs
        print(f"peak RSS, pool, N={size}: {peaks[size]:.0f} MiB (largest process; {rate:.1f}/s)")
    if len(sizes) >= 2:
        ratio = peaks[sizes[-1]] / peaks[sizes[0]]
        print(f"peak RSS ratio N={sizes[-1]} / N={sizes[0]}: {ratio:.2f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
