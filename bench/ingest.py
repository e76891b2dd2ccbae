"""Throughput of `marsad ingest` on generated WARCs: records/s per runner, time per phase.

    python bench/ingest.py [--records 5000] [--files 10] [--batch 50] [--data DIR]

WARCs are written under /tmp (never in the repository) from the benchmark pages: every
other record one of the Arabic pages, the others the ScrapingHub and trafilatura-eval pages
(mostly English), cycled, each record with its own URL so none is skipped as already
stored; one response record per page, as in CC-NEWS. Then the ingest flow runs, into a
fresh output each time, with threads x1 (in-process), processes x2 and a Dask
LocalCluster of 2 workers; ner_neural is off (the CRF alone), as in bench/throughput.py's
figures. `read`, `process` (summed over workers) and `write` (the flow's single writer)
come from the run summary's `seconds`.
"""

from __future__ import annotations

import argparse
import atexit
import io
import os
import re
import shutil
import sys
import tempfile
import time
from itertools import cycle
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import _private_prefect  # noqa: F401  (before prefect is imported)
from _common import Page, arabic_pages, data_root, scrapinghub, trafilatura_eval
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

RUNNERS = (("threads", 1), ("processes", 2), ("dask", 2))


_SELF_URL = re.compile(rb"""rel=["']?canonical|og:url""", re.I)


def _own(raw: bytes) -> bytes:
    """The page without its canonical link and og:url: repeated pages stay distinct
    articles (the record's URL is then its canonical URL)."""
    return _SELF_URL.sub(b"rel=x-bench", raw)


def _url(page: Page, n: int) -> str:
    host = urlsplit(page.url or "").hostname or f"site{n % 50}.example.org"
    return f"https://{host}/bench/{n}.html"


def write_warcs(root: Path, records: int, files: int) -> tuple[list[str], int]:
    """`records` response records over `files` WARC files; returns paths and Arabic count."""
    root.mkdir(parents=True, exist_ok=True)
    data = data_root(None)
    arabic = cycle(list(arabic_pages(data)))
    other = cycle(list(scrapinghub(data)) + list(trafilatura_eval(data)))
    per_file = -(-records // files)
    paths, n, n_ar = [], 0, 0
    for f in range(files):
        path = root / f"bench-{f:03d}.warc.gz"
        with open(path, "wb") as fh:
            w = WARCWriter(fh, gzip=True, warc_version="1.1")
            for _ in range(min(per_file, records - n)):
                page = next(arabic) if n % 2 == 0 else next(other)
                n_ar += n % 2 == 0
                http = StatusAndHeaders(
                    "200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1"
                )
                rec = w.create_warc_record(
                    _url(page, n),
                    "response",
                    payload=io.BytesIO(_own(page.raw)),
                    length=len(_own(page.raw)),
                    warc_headers_dict={"WARC-Date": "2024-03-02T08:15:00Z"},
                    http_headers=http,
                )
                w.write_record(rec)
                n += 1
        paths.append(str(path))
    return paths, n_ar


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--runners", default=",".join(f"{r}:{w}" for r, w in RUNNERS))
    args = ap.parse_args()

    from marsad.flows.ingest import ingest
    from marsad.settings import Settings

    root = Path(tempfile.mkdtemp(prefix="marsad-ingest-bench-", dir="/tmp"))
    atexit.register(shutil.rmtree, root, True)
    warcs, n_ar = write_warcs(root, args.records, args.files)
    size = sum(Path(p).stat().st_size for p in warcs) / 1e6
    print(f"{args.records} records ({n_ar} Arabic) in {len(warcs)} files, {size:.0f} MB")
    warm, _ = write_warcs(root / "warm", 20, 1)  # the Prefect server and models, started once
    ingest(warcs=warm, out=str(root / "out-warm"), settings=Settings(ner_neural=False))
    print("| runner | workers | records/s | stored | read | process | write |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for spec in args.runners.split(","):
        runner, workers = spec.split(":")
        settings = Settings(
            runner=runner, workers=int(workers), batch_size=args.batch, ner_neural=False
        )
        out = root / f"out-{runner}-{workers}"
        started = time.perf_counter()
        state = ingest(warcs=warcs, out=str(out), settings=settings, return_state=True)
        wall = time.perf_counter() - started
        result = state.result()
        assert isinstance(result, dict)
        secs = result.get("seconds", {})
        assert isinstance(secs, dict)
        total = sum(secs.values()) or 1.0
        share = {k: f"{100 * secs.get(k, 0) / total:.0f}%" for k in ("read", "process", "write")}
        print(
            f"| {runner} | {workers} | {args.records / wall:.1f} | {result['stored']} "
            f"| {share['read']} | {share['process']} | {share['write']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
