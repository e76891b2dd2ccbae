"""Fetch throughput against the politeness limits: 1,000 pages over 20 loopback hosts.

A small asyncio server runs in a child process on 127.0.0.2 … 127.0.0.21 (all loopback
on Linux), one listening socket per address, and answers every page after an injected
latency (robots.txt: 404); it counts concurrent requests per address. marsad fetches
the pages with the full fetch stage (robots.txt, SSRF guard, state store, WARC archive).

The ideal the limits allow, per host: pages_per_host × latency / per_host_concurrency,
or, when the minimum delay binds, (pages_per_host − 1) × delay + latency. Hosts run in
parallel (the global limit is set above hosts × per-host limit, so it does not bind).
Printed: wall time, ideal, and ratio = ideal / wall (goal ≥ 0.9).

    .venv/bin/python bench/fetch.py                  # per_host_delay 0 s and 1 s
    .venv/bin/python bench/fetch.py --delays 0       # only the latency-bound case
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time

SERVER = """
import asyncio, json, sys
from collections import Counter

# A minimal asyncio HTTP/1.1 keep-alive server: the fault server's threads (one per
# connection, all under one GIL) would themselves become the bottleneck at 40 in flight.
HOSTS = [f"127.0.0.{{i}}" for i in range(2, 2 + {hosts})]
LATENCY = {latency}
active, peak = Counter(), Counter()
BODY = b"<!DOCTYPE html><html><body><p>bench page</p></body></html>"
HEAD = (
    b"HTTP/1.1 200 OK\\r\\nContent-Type: text/html; charset=utf-8\\r\\n"
    b"Content-Length: %d\\r\\n\\r\\n" % len(BODY)
)
NOT_FOUND = b"HTTP/1.1 404 Not Found\\r\\nContent-Length: 0\\r\\n\\r\\n"


async def handle(reader, writer):
    host = writer.get_extra_info("sockname")[0]
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            path = head.split(b" ", 2)[1]
            active[host] += 1
            peak[host] = max(peak[host], active[host])
            await asyncio.sleep(LATENCY)
            active[host] -= 1  # before the bytes leave: the client's next request may follow
            writer.write(NOT_FOUND if path == b"/robots.txt" else HEAD + BODY)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    servers = [await asyncio.start_server(handle, HOSTS[0], 0)]
    port = servers[0].sockets[0].getsockname()[1]
    for h in HOSTS[1:]:
        servers.append(await asyncio.start_server(handle, h, port))
    print(json.dumps({{h: f"http://{{h}}:{{port}}" for h in HOSTS}}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(json.dumps(dict(peak)), flush=True)


asyncio.run(main())
"""


def ideal_seconds(pages_per_host: int, latency: float, per_host: int, delay: float) -> float:
    by_concurrency = pages_per_host * latency / per_host
    by_delay = (pages_per_host - 1) * delay + latency
    return max(by_concurrency, by_delay)


def run(
    hosts: int, pages: int, latency: float, per_host: int, delay: float, archive: bool = True
) -> dict[str, float]:
    from marsad.fetch.articles import fetch_articles
    from marsad.record import FeedItem
    from marsad.settings import Settings

    code = SERVER.format(hosts=hosts, latency=latency)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        bases = json.loads(proc.stdout.readline())
        per = pages // hosts
        items = [
            FeedItem(f"{b}/bench/{i}.html", "bench") for b in bases.values() for i in range(per)
        ]
        settings = Settings(
            allow_private_networks=True,
            per_host_concurrency=per_host,
            per_host_delay_s=delay,
            global_concurrency=hosts * per_host,
            timeout_s=10,
            max_fetch_time_s=30,
            archive_warc=archive,
        )
        with tempfile.TemporaryDirectory() as out:
            t0, cpu0 = time.perf_counter(), time.process_time()
            arts, fails = asyncio.run(
                asyncio.wait_for(fetch_articles(items, settings, "bench", out), timeout=600)
            )
            wall = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
        proc.stdin.close()
        max_active = json.loads(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()
    ideal = ideal_seconds(per, latency, per_host, delay)
    return {
        "pages": len(items),
        "fetched": len(arts),
        "failed": len(fails),
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "ratio": round(ideal / wall, 3),
        "client_cpu_s": round(cpu, 2),
        "max_concurrent_per_host_seen_by_server": max(max_active.values()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hosts", type=int, default=20)
    p.add_argument("--pages", type=int, default=1000)
    p.add_argument("--latency", type=float, default=0.2)
    p.add_argument("--per-host", type=int, default=2)
    p.add_argument("--delays", type=float, nargs="+", default=[0.0, 1.0])
    p.add_argument("--no-warc", action="store_true", help="state store only, no WARC archive")
    args = p.parse_args()
    if not 1 <= args.hosts <= 200 or not 1 <= args.pages <= 20_000:
        raise SystemExit("hosts must be 1..200 and pages 1..20000 (loopback only, bounded)")
    for delay in args.delays:
        result = run(args.hosts, args.pages, args.latency, args.per_host, delay, not args.no_warc)
        print(json.dumps({"per_host_delay_s": delay, "warc": not args.no_warc, **result}))


if __name__ == "__main__":
    main()
