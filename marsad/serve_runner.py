"""How `marsad serve` stops: on Ctrl-C or SIGTERM, within seconds, with no run left RUNNING.

Prefect's `serve` let the terminal's SIGINT reach every process in the foreground group: the
server died first, the flow run in flight could not report, and its retries filled the
terminal with tracebacks for a minute (issue 12). Here:

- SIGINT is blocked in marsad from the start and read by one thread (`sigwait`); children
  inherit the blocked mask, so a Ctrl-C reaches marsad alone (the server child unblocks it,
  and runs in its own session anyway). SIGTERM is handled in the main thread.
- A stop request stops the poller (no new runs), then Prefect's own cancellation path runs
  (`Runner.astop`: cancel intent over the control channel, SIGTERM, the engine records
  Cancelled). A run process still alive after GRACE_S is killed; any run still open after
  that is forced to Crashed, so its concurrency slot is free for the next start.
- From the stop request on, the terminal's stdout and stderr go to the serve log; the
  caller prints one line when everything, the server child included, has stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from uuid import UUID

from marsad.serve_deployments import crash_runs, finished_since, open_runs, pause_ours

if TYPE_CHECKING:
    from prefect.runner import Runner

GRACE_S = 7.0  # for run processes to exit after Prefect's cancel; then SIGKILL
EXIT_CODES = {"interrupted": 130, "terminated": 0}


@dataclass
class Outcome:
    reason: str
    finished: int = 0
    cancelled: int = 0

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.reason, 1)

    def line(self) -> str:
        runs = "run" if self.finished == 1 else "runs"
        return (
            f"marsad serve: stopped ({self.reason}); {self.finished} {runs} finished, "
            f"{self.cancelled} cancelled"
        )


class Stopper:
    """Where a stop request lands, from a signal thread or handler, before or after the
    event loop exists; it also silences the terminal once a stop is under way."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._saved: tuple[int, int] | None = None

    def requested(self) -> bool:
        return self.reason is not None

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        if self._loop is not None and self._event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(self._event.set)

    def on_sigterm(self, signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        self.request("terminated")

    def attach(self) -> asyncio.Event:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        if self.reason is not None:
            self._event.set()
        return self._event

    def silence(self, log_path: Path) -> None:
        """Point fds 1 and 2 (ours, and what the run processes stream to) at the log."""
        if self._saved is not None:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._saved = (os.dup(1), os.dup(2))
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)

    def restore(self) -> None:
        if self._saved is None:
            return
        with contextlib.suppress(ValueError, OSError):
            sys.stdout.flush()
            sys.stderr.flush()
        for fd, saved in zip((1, 2), self._saved, strict=True):
            os.dup2(saved, fd)
            os.close(saved)
        self._saved = None


@contextmanager
def catch_signals(stopper: Stopper) -> Iterator[None]:
    """SIGINT blocked and read by a thread, SIGTERM handled; both become stop requests.

    Enter before any thread or child process starts: both inherit the blocked mask.
    """
    closing = threading.Event()

    def wait_for_sigint() -> None:
        while True:
            signal.sigwait({signal.SIGINT})
            if closing.is_set():
                return
            stopper.request("interrupted")

    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    previous = signal.signal(signal.SIGTERM, stopper.on_sigterm)
    waiter = threading.Thread(target=wait_for_sigint, name="marsad-sigint", daemon=True)
    waiter.start()
    try:
        yield
    finally:
        closing.set()
        signal.pthread_kill(waiter.ident or 0, signal.SIGINT)
        waiter.join(timeout=2)
        signal.signal(signal.SIGTERM, previous)
        restore_mask(mask)


def restore_mask(mask: set[int | signal.Signals]) -> None:
    """Back to `mask`, dropping a SIGINT that is pending (a stop already done; unblocked it
    would surface as a KeyboardInterrupt on the way out)."""
    while signal.SIGINT in signal.sigpending():
        signal.sigtimedwait({signal.SIGINT}, 0)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def note(what: str) -> None:
    """A line for the serve log (stderr points there once a stop is under way)."""
    print(f"{datetime.now(UTC):%H:%M:%S.%f} | marsad serve: {what}", file=sys.stderr, flush=True)


def child_pids() -> list[int]:
    """This process's children (Linux /proc; elsewhere none are known)."""
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as f:
                pids += [int(p) for p in f.read().split()]
    return pids


def kill_run_processes() -> None:
    """SIGKILL the children in marsad's own session: the flow runs (the server child leads a
    session of its own and is stopped last, by its owner)."""
    ours = os.getsid(0)
    for pid in child_pids():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getsid(pid) == ours:
                os.kill(pid, signal.SIGKILL)


async def _settle(task: asyncio.Task[Any], timeout_s: float) -> bool:
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    return bool(done)


async def stop_runner(runner: Runner, started: asyncio.Task[Any]) -> None:
    """Stop polling, cancel the runs in flight Prefect's way, then force what lingers."""
    runner.stopping = True
    poller = getattr(runner, "_scheduled_run_poller", None)
    if poller is not None:
        poller.stopping = True
    stop = asyncio.create_task(runner.astop()) if runner.started else None
    if stop is None:
        started.cancel()
    if not await _settle(started, GRACE_S):
        note(f"run processes still alive after {GRACE_S:g} s: killed")
        kill_run_processes()
        if not await _settle(started, 4.0):
            started.cancel()
            await _settle(started, 2.0)
    for task in (stop, started):
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # retrieved: a failure while stopping is in the serve log


async def serve_until_stopped(
    runner: Runner,
    stopper: Stopper,
    log_path: Path,
    owned: Mapping[UUID, dict[str, Any]],
) -> Outcome:
    """Run `runner` until a stop request; then stop it and account for its runs and for
    those of the `owned` deployments (id -> the parameters this instance registered)."""
    from prefect.client.orchestration import get_client

    since = datetime.now(UTC)
    stop_event = stopper.attach()
    runner.handle_sigterm = stopper.on_sigterm  # type: ignore[method-assign]
    started = asyncio.create_task(runner.start())
    waiter = asyncio.create_task(stop_event.wait())
    await asyncio.wait({started, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if started.done() and not stopper.requested():
        waiter.cancel()
        started.result()  # the runner's own failure, as is
        stopper.request("runner stopped")
    stopper.silence(log_path)
    note(f"stopping ({stopper.reason})")
    async with get_client() as client:
        # ours: what this runner runs, and whatever is open of deployments nobody else serves
        in_flight = await open_runs(client, owned, tracked_runs(runner))
        note(f"{len(in_flight)} runs in flight; cancelling them")
        await stop_runner(runner, started)
        left = await open_runs(client, run_ids=[r.id for r in in_flight])
        await crash_runs(client, left, f"marsad serve stopped ({stopper.reason}) during this run")
        note(f"runner stopped; {len(left)} runs still open were marked Crashed")
        finished = await finished_since(client, owned, since)
        note(f"paused {await pause_ours(client, owned)} deployments")
    waiter.cancel()
    return Outcome(stopper.reason or "stopped", finished, len(in_flight))


def tracked_runs(runner: Runner) -> list[UUID]:
    """The flow runs whose processes `runner` holds (Prefect 3.9's ProcessManager; none if a
    later Prefect moves it: the runs of `owned` deployments are still covered)."""
    manager = getattr(runner, "_process_manager", None)
    ids = getattr(manager, "flow_run_ids", None)
    return list(ids()) if callable(ids) else []
