"""Soak: `marsad serve` left running against a misbehaving site, killed and restarted.

    python bench/soak.py --minutes 30            # the recorded run (docs/benchmarks.md)
    python bench/soak.py --minutes 6 --calm 3    # a quick look

One-minute schedules against bench/soaksite.py (a feed that grows every minute and answers
304 in between, 5-second pages, pages that trickle a byte every 2 s, pages that fail twice,
a `<meta charset="hex">` page, links and sitemap entries that are not URLs). For the first
part of the soak the serve process is killed every `--restart-every` seconds, alternately
with kill -9 and with Ctrl-C (SIGINT to its process group, as a terminal sends it), and
restarted at once; for the last `--calm` minutes it runs undisturbed, and its memory is
sampled. Then it is stopped with Ctrl-C, and the benchmark checks, from a fresh Prefect
server on the same database and from the Parquet output:

- runs completed / crashed / cancelled / failed, and runs left RUNNING or PENDING (stuck);
- URLs the site listed (in any 200) vs URLs accounted for (an article or a failure row);
- duplicate article ids (polars and DuckDB);
- RSS of serve and its server child, 5 minutes into the calm part and at its end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import httpx
import polars as pl
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soaksite import Site, soak_site

SETTINGS = """\
per_host_delay_s: 0.2
batch_size: 5
timeout_s: 10
max_fetch_time_s: 30
ner_neural: false
"""


def sources_yaml(bases: dict[str, str]) -> str:
    return f"""\
sources:
  - name: news
    feeds: [{bases["news"]}/feed.xml]
  - name: slow
    feeds: [{bases["slow"]}/slow-feed.xml]
  - name: flaky
    feeds: [{bases["flaky"]}/flaky-feed.xml]
  - name: poison
    homepage: {bases["poison"]}/home.html
    sitemaps: [{bases["poison"]}/poison-sitemap.xml]
"""


def drain(work: Path, api: str) -> int:
    """One `marsad run` left to finish (the site no longer grows): what the killed runs had
    found and not finished must now end as rows."""
    cmd = [sys.executable, "-m", "marsad.cli", "run", "--sources", str(work / "sources.yaml")]
    cmd += ["--out", str(work / "out"), "--settings", str(work / "settings.yaml")]
    cmd += ["--allow-private-networks"]
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_LOGGING_LEVEL": "WARNING"}
    with open(work / "drain.log", "ab") as log:
        return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode


def start_serve(work: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(work / "serve.log", "ab")  # noqa: SIM115 - the child keeps it
    cmd = [sys.executable, "-m", "marsad.cli", "serve", "--sources", str(work / "sources.yaml")]
    cmd += ["--out", str(work / "out"), "--settings", str(work / "settings.yaml")]
    cmd += ["--allow-private-networks", "--schedule", "default=* * * * *", "--port", str(port)]
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def stop(proc: subprocess.Popen[bytes], how: str) -> tuple[int | None, float]:
    """Kill -9 the serve process, or Ctrl-C its group; (exit status, seconds to exit)."""
    t0 = time.monotonic()
    if how == "kill":
        proc.kill()
    else:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None, time.monotonic() - t0
    return proc.returncode, time.monotonic() - t0


def rss_mb(proc: subprocess.Popen[bytes]) -> dict[str, float]:
    """RSS of serve itself and of its Prefect server child (flow runs come and go)."""
    try:
        p = psutil.Process(proc.pid)
        kids = p.children(recursive=True)
    except psutil.NoSuchProcess:
        return {}
    server = [k for k in kids if "server" in " ".join(k.cmdline())]
    mb = {"serve": p.memory_info().rss / 2**20}
    mb["server"] = sum(k.memory_info().rss for k in server) / 2**20
    return mb


def flow_runs(api: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    with httpx.Client(timeout=30) as client:
        while True:
            body = {"limit": 200, "offset": len(runs), "sort": "START_TIME_ASC"}
            page = client.post(f"{api}/flow_runs/filter", json=body).json()
            runs += page
            if len(page) < 200:
                return runs


def account(out: Path, site: Site) -> dict[str, Any]:
    arts = pl.read_parquet(f"{out}/articles/**/*.parquet")
    fails = pl.read_parquet(f"{out}/failures/**/*.parquet")
    rows = set(arts["url"]) | set(fails["url"])
    missing = sorted(site.listed - rows)
    total, unique = duckdb.sql(
        f"select count(*), count(distinct article_id) "
        f"from read_parquet('{out}/articles/**/*.parquet')"
    ).fetchall()[0]
    return {
        "listed": len(site.listed),
        "accounted": len(site.listed) - len(missing),
        "missing": missing[:20],
        "articles": arts.height,
        "duplicate_ids": arts.height - arts["article_id"].n_unique() + (total - unique),
        "failure_reasons": Counter(e.split(";")[0][:60] for e in fails["error"]).most_common(8),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--calm", type=float, default=12.0, help="undisturbed minutes at the end")
    ap.add_argument("--restart-every", type=float, default=180.0, help="seconds")
    ap.add_argument("--work", default=None, help="keep everything here (default: a temp dir)")
    args = ap.parse_args()
    from marsad.prefect_server import free_port, local_server

    work = Path(args.work or tempfile.mkdtemp(prefix="marsad-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    kills: list[dict[str, Any]] = []
    samples: list[tuple[float, dict[str, float]]] = []
    with soak_site() as site:
        (work / "sources.yaml").write_text(sources_yaml(site.bases))
        (work / "settings.yaml").write_text(SETTINGS)
        t0 = time.monotonic()
        chaos_end = t0 + (args.minutes - args.calm) * 60
        end = t0 + args.minutes * 60
        proc = start_serve(work, port)
        calm_start = None
        while time.monotonic() < end:
            now = time.monotonic()
            if now < chaos_end:
                time.sleep(min(args.restart_every, max(0.0, chaos_end - now)))
                if time.monotonic() >= chaos_end:
                    continue
                how = "kill" if len(kills) % 2 == 0 else "sigint"
                status, took = stop(proc, how)
                kills.append({"how": how, "exit": status, "seconds": round(took, 1)})
                print(
                    f"{(time.monotonic() - t0) / 60:5.1f} min: {how}: exit {status}, {took:.1f} s",
                    flush=True,
                )
                proc = start_serve(work, port)
                continue
            calm_start = calm_start or now
            samples.append((now - calm_start, rss_mb(proc)))
            time.sleep(30)
        status, took = stop(proc, "sigint")
        kills.append({"how": "final sigint", "exit": status, "seconds": round(took, 1)})
        site.freeze()
        with local_server(work / "out" / ".prefect", free_port()) as api:
            runs = flow_runs(api)  # before the drain run: only serve's
            report = account(work / "out", site)  # what serve alone accounted for
            drained = drain(work, api)
        report = {"served": report, "drain_exit": drained, **account(work / "out", site)}
    states = Counter(r["state_type"] for r in runs if r.get("deployment_id"))
    after5 = [m for t, m in samples if t >= 300]
    first, last = (after5[0], after5[-1]) if after5 else ({}, {})
    growth = {k: round(100 * (last[k] - first[k]) / first[k], 1) for k in first if first[k]}
    result = {
        "work": str(work),
        "minutes": args.minutes,
        "stops": kills,
        "runs": dict(states),
        "stuck": states.get("RUNNING", 0) + states.get("PENDING", 0) + states.get("CANCELLING", 0),
        **report,
        "rss_mb_at_5_min": {k: round(v) for k, v in first.items()},
        "rss_mb_at_end": {k: round(v) for k, v in last.items()},
        "rss_growth_pct": growth,
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    share = 100 * report["accounted"] / max(1, report["listed"])
    served = report["served"]
    print(
        f"before the drain run: listed {served['listed']}, accounted {served['accounted']}; "
        f"the drain run exited {drained}"
    )
    print(
        f"runs {dict(states)}; stuck {result['stuck']}; URLs listed {report['listed']}, "
        f"accounted {report['accounted']} ({share:.1f}%); duplicate ids {report['duplicate_ids']}; "
        f"RSS growth after 5 min {growth}"
    )


if __name__ == "__main__":
    main()
