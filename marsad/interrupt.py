"""Ctrl-C for `marsad run` and `marsad demo`: stop after the current batch, in seconds.

A terminal's Ctrl-C goes to every process of the foreground group: Prefect's ephemeral API
server (a child) would die with marsad and the run's last states could not be recorded
(a ~76 s hang, then a traceback). So SIGINT is blocked before any thread or child starts
(both inherit the mask: the server and process-pool workers never see it), and one thread
takes it with `sigwait`: the first asks the run to stop (marsad.budget), the second quits
at once. SIGTERM is left alone: it is sent to one process, not to a terminal's group, and
Prefect's engine turns it into the flow run's Crashed state (pending URLs lose nothing).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from marsad.budget import clear_stop, request_stop

SIGNALS = {signal.SIGINT}
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


class Interrupts:
    """What the signal thread saw: the first signal's number, if any."""

    def __init__(self) -> None:
        self.first: int | None = None

    @property
    def exit_code(self) -> int:
        return 128 + (self.first or signal.SIGINT)


def _quit_now(sig: int) -> None:
    """The second signal: stop Prefect's ephemeral server (a child that would outlive us),
    then leave without unwinding anything."""
    print("marsad: stopped at once; the next run resumes", file=sys.stderr, flush=True)
    try:
        from prefect.server.api.server import SubprocessASGIServer

        for server in list(getattr(SubprocessASGIServer, "_instances", {}).values()):
            proc = getattr(server, "server_process", None)
            if proc is not None:
                proc.kill()
    except Exception:  # quitting anyway; there is nothing to report it to
        pass
    os._exit(128 + sig)


def _wait_for_signals(seen: Interrupts) -> None:
    while True:
        sig = signal.sigwait(SIGNALS)
        if seen.first is not None:
            _quit_now(sig)
        seen.first = sig
        request_stop()
        print(
            "marsad: stopping after the current batch (Ctrl-C again to quit at once)",
            file=sys.stderr,
            flush=True,
        )


@contextmanager
def stop_on_signals() -> Iterator[Interrupts]:
    """Within the block, Ctrl-C (SIGINT) requests a stop instead of raising.

    Must be entered before Prefect starts its threads or server (they inherit the mask).
    """
    if threading.current_thread() is not threading.main_thread():
        yield Interrupts()  # signals are the main thread's business; nothing to arrange
        return
    seen = Interrupts()
    clear_stop()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    threading.Thread(target=_wait_for_signals, args=(seen,), daemon=True).start()
    try:
        yield seen
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
