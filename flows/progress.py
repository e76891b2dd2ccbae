"""A run's progress: a Prefect progress artifact, and a rich bar on a terminal."""

from __future__ import annotations

import sys
from types import TracebackType
from uuid import UUID

from rich.progress import Progress, TaskID


class RunProgress:
    """Progress of a long run: a Prefect progress artifact, and a rich bar on a terminal.

    The artifact is updated at most every 5 percentage points, so a crawl of thousands of
    documents costs a few dozen API calls, not one per batch.
    """

    def __init__(self, total: int, label: str, terminal: bool | None = None) -> None:
        self.total = max(total, 0)
        self.done = 0
        self.label = label
        self._artifact: UUID | None = None
        self._last = -100.0
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._terminal = sys.stderr.isatty() if terminal is None else terminal

    def __enter__(self) -> RunProgress:
        from prefect.artifacts import create_progress_artifact

        artifact = create_progress_artifact(0.0, description=self.label)
        self._artifact = artifact if isinstance(artifact, UUID) else None
        self._last = 0.0
        if self._terminal:
            self._bar = Progress(transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total or 1)
        return self

    def advance(self, n: int) -> None:
        self.done += n
        pct = 100.0 if not self.total else min(100.0, 100.0 * self.done / self.total)
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done)
        if self._artifact is not None and (pct - self._last >= 5 or pct == 100.0):
            from prefect.artifacts import update_progress_artifact

            update_progress_artifact(self._artifact, pct)
            self._last = pct

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self._artifact is not None and self._last < 100.0:
            from prefect.artifacts import update_progress_artifact

            update_progress_artifact(self._artifact, 100.0)
        if self._bar is not None:
            self._bar.stop()
