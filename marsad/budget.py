"""Time budgets and stop requests: a run ends on time, and on Ctrl-C, without losing a URL.

What a run does not reach in time (or before a stop request) stays in the pending set and is
recorded as a failure whose reason starts with `deferred:`; the next run takes it first.
The stop flag is per process: `marsad run`'s Ctrl-C sets it (marsad.interrupt), and the
fetching loops poll it, so a stop never interrupts a write half way. (A served run is
cancelled by Prefect's own SIGTERM path instead; its unfinished URLs stay pending as well.)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable
from dataclasses import dataclass

DEFERRED = "deferred: "
RUN_BUDGET = DEFERRED + "run time budget"
HOST_BUDGET = DEFERRED + "host time budget"
STOPPED = DEFERRED + "run stopped"
DEFAULT_RUN_SECONDS = 3600.0

_stop = threading.Event()


def request_stop() -> None:
    _stop.set()


def stop_requested() -> bool:
    return _stop.is_set()


def clear_stop() -> None:
    """For a process that runs again after a stop (tests, a long-lived worker)."""
    _stop.clear()


def is_deferred(error: str) -> bool:
    return error.startswith(DEFERRED)


@dataclass(frozen=True, slots=True)
class Budget:
    """A run's deadline (epoch seconds; None: none) and each host's share of it."""

    deadline: float | None = None
    host_seconds: float | None = None

    @classmethod
    def starting_now(cls, run_seconds: float | None, host_seconds: float | None) -> Budget:
        """`run_seconds` None: no deadline (backfill, retry-failures, reprocess unless their
        settings set one); a host's share defaults to half the run's, and to none without it."""
        if run_seconds is None:
            return cls(None, host_seconds)
        return cls(time.time() + run_seconds, host_seconds or run_seconds / 2)

    def remaining(self) -> float:
        """Seconds left (0 once stopped); infinity without a deadline."""
        if stop_requested():
            return 0.0
        if self.deadline is None:
            return float("inf")
        return max(0.0, self.deadline - time.time())

    def why_out(self) -> str:
        """The reason to record for what this budget left undone."""
        return STOPPED if stop_requested() else RUN_BUDGET


async def within(budget: Budget, job: Awaitable[None], poll_s: float = 0.25) -> bool:
    """Run `job`; False when the budget ran out (or a stop came) first: the job is then
    cancelled at its next await, never in the middle of a synchronous write."""
    task = asyncio.ensure_future(job)
    while True:
        left = budget.remaining()
        if left <= 0:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return False
        done, _ = await asyncio.wait({task}, timeout=min(left, poll_s))
        if done:
            task.result()  # re-raises what the job raised
            return True


class HostClock:
    """How long each host has kept the run busy (wall time with a request of it in flight),
    so one slow or trickling host cannot hold the whole run: past `limit` seconds, its
    remaining URLs are deferred. `spent` carries the run's earlier batches."""

    def __init__(self, spent: dict[str, float], limit: float | None) -> None:
        self.before = dict(spent)
        self.limit = limit
        self.active: dict[str, int] = {}
        self.since: dict[str, float] = {}
        self.now_spent: dict[str, float] = {}  # this batch's time, per host

    def enter(self, host: str) -> None:
        if self.active.get(host, 0) == 0:
            self.since[host] = time.time()
        self.active[host] = self.active.get(host, 0) + 1

    def leave(self, host: str) -> None:
        self.active[host] -= 1
        if self.active[host] == 0:
            elapsed = time.time() - self.since.pop(host)
            self.now_spent[host] = self.now_spent.get(host, 0.0) + elapsed

    def spent(self, host: str) -> float:
        running = time.time() - self.since[host] if host in self.since else 0.0
        return self.before.get(host, 0.0) + self.now_spent.get(host, 0.0) + running

    def deadline(self, host: str) -> float | None:
        """When `host`'s share runs out (epoch seconds); None: no per-host limit."""
        if self.limit is None:
            return None
        return time.time() + self.limit - self.spent(host)
