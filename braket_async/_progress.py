"""The live progress display of sweeps and groups: a consumer of the group's events.

Counts per state, elapsed time, throughput, an estimate of the time left, failures as
they happen, and calls that fail and are retried (a service that does not answer).
Drawn with rich when it is installed (``braket-async[progress]``), in a terminal or a
Jupyter notebook alike; without rich, one plain line per change of the counts, per
failure, and when retries start and stop. Off by itself when the output is neither a
terminal nor a notebook.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import IO, Any, Protocol

import anyio

from ._events import GroupEvent, JobEvent, RetryEvent
from ._states import JobState

__all__ = ["ProgressDisplay", "in_notebook", "interactive", "progress_display"]

_REFRESH_SECONDS = 0.25
_FAILURES_SHOWN = 5


class _Group(Protocol):
    def events(self) -> AsyncIterator[GroupEvent]: ...


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (not merely with ipykernel imported)."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def interactive(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default: standard output) is a terminal, or this runs in a
    Jupyter kernel."""
    if in_notebook():
        return True
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class ProgressDisplay:
    """What a sweep or a group shows while it runs.

    Args:
        total: How many points there are (``None``: as many as jobs seen).
        title: The first word of the line.
        file: Where it is drawn (default: standard output).
        use_rich: Draw with rich (default: when it is installed).
    """

    def __init__(
        self,
        total: int | None,
        *,
        title: str = "sweep",
        file: IO[str] | None = None,
        use_rich: bool | None = None,
    ) -> None:
        self.total = total
        self.title = title
        self.file = file
        self.states: dict[str, JobState] = {}
        self.failures: list[str] = []
        #: The calls being retried, by job (or job name while it is created).
        self.retrying: dict[str, RetryEvent] = {}
        #: Jobs whose end could not be seen (given up on, or vanished).
        self.lost: set[str] = set()
        self.not_created = 0
        self.billed_seconds = 0.0
        self.started = time.monotonic()
        self._last_line = ""
        self._live: Any = None
        if use_rich is None:
            # rich redraws in place, which only a terminal shows well; a forced display
            # into a pipe or a file gets plain lines.
            try:
                import rich  # noqa: F401
            except ImportError:
                use_rich = False
            else:
                use_rich = interactive(file) and not in_notebook()
        self.use_rich = use_rich

    # -- what happens ------------------------------------------------------------------

    def job_event(self, event: JobEvent) -> None:
        """A job changed state."""
        self.states[event.job.arn] = event.new_state
        self.refresh()

    def retry_event(self, event: RetryEvent) -> None:
        """A call about a job failed and is retried, was given up, or got through."""
        key = event.job.arn if event.job is not None else f"{event.operation}:{event.job_name}"
        was_retrying = bool(self.retrying)
        if event.error is not None and event.retry_at is not None:
            self.retrying[key] = event
            if not was_retrying and not self.use_rich:
                self._print(f"{self.title}: {_retry_line(event)}")
        else:
            self.retrying.pop(key, None)
            if event.gave_up and event.job is not None and event.job.arn not in self.lost:
                self.lost.add(event.job.arn)
                state = self.states.get(event.job.arn)
                self._failure(event.job.name, state.value if state else "UNKNOWN", event.error)
            if was_retrying and not self.retrying and not self.use_rich:
                self._print(f"{self.title}: no call is being retried now")
        self.refresh()

    def point_done(self, point: Any) -> None:
        """A point ended (a :class:`~braket_async.SweepPoint`)."""
        if point.job is None:
            self.not_created += 1
        elif point.state is None:
            if point.job.arn in self.lost:
                self.refresh()
                return  # said when it was given up
            self.lost.add(point.job.arn)
        if point.billable_seconds:
            self.billed_seconds += point.billable_seconds
        if not point.ok:
            name = point.job.name if point.job is not None else f"point {point.index}"
            reason = getattr(point.error, "failure_reason", None) or point.error
            if point.state is not None:
                state = point.state.value
            else:
                state = "NOT CREATED" if point.job is None else "LOST"
            self._failure(name, state, reason)
        self.refresh()

    def _failure(self, name: str, state: str, reason: object) -> None:
        self.failures.append(f"{name} {state}: {_one_line(reason)}")
        if not self.use_rich:
            self._print(f"{self.title}: {self.failures[-1]}")

    # -- drawing -----------------------------------------------------------------------

    def summary(self) -> str:
        """The one-line summary: counts, elapsed, throughput, time left."""
        counts: dict[JobState, int] = {}
        for arn, state in self.states.items():
            if arn not in self.lost:
                counts[state] = counts.get(state, 0) + 1
        total = self.total if self.total is not None else len(self.states.keys() | self.lost)
        elapsed = time.monotonic() - self.started
        terminal = sum(count for state, count in counts.items() if state.is_terminal)
        done = self.not_created + len(self.lost) + terminal
        parts = [f"{self.title}: {done}/{total} done"]
        for state in (
            JobState.QUEUED,
            JobState.RUNNING,
            JobState.CANCELLING,
            JobState.COMPLETED,
            JobState.FAILED,
            JobState.CANCELLED,
        ):
            if counts.get(state):
                parts.append(f"{counts[state]} {state.value.lower()}")
        if self.lost:
            parts.append(f"{len(self.lost)} lost")
        if self.retrying:
            parts.append(f"{len(self.retrying)} retrying")
        parts.append(f"elapsed {_duration(elapsed)}")
        if self.billed_seconds:
            parts.append(f"billed {self.billed_seconds:.1f}s")
        if done and elapsed > 0:
            rate = done / elapsed
            parts.append(f"{rate:.2f} jobs/s")
            if total > done:
                parts.append(f"~{_duration((total - done) / rate)} left")
        return " · ".join(parts)

    def refresh(self) -> None:
        """Draw the current state (rich: the live view; plain: a line if it changed)."""
        if isinstance(self._live, _NotebookView):
            self._live.update()
            return
        if self._live is not None:
            self._live.update(self._renderable())
            return
        if not self.use_rich:
            line = self.summary().split(" · elapsed")[0]  # counts only: no line per tick
            if line != self._last_line:
                self._last_line = line
                self._print(self.summary())

    def _renderable(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        lines = [Text(self.summary(), style="bold")]
        if self.retrying:
            lines.append(Text(f"↻ {_retry_line(self._latest_retry())}", style="yellow"))
        for failure in self.failures[-_FAILURES_SHOWN:]:
            lines.append(Text(f"✗ {failure}", style="red"))
        if len(self.failures) > _FAILURES_SHOWN:
            lines.append(Text(f"  ... {len(self.failures) - _FAILURES_SHOWN} more failures"))
        return Group(*lines)

    def _latest_retry(self) -> RetryEvent:
        return max(self.retrying.values(), key=lambda event: event.time)

    def _print(self, line: str) -> None:
        print(line, file=self.file if self.file is not None else sys.stdout, flush=True)

    @contextlib.asynccontextmanager
    async def shown(self, group: _Group) -> AsyncIterator[ProgressDisplay]:
        """Show the display while the block runs, fed by ``group``'s events."""
        events = group.events()
        live: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if self.file is None and in_notebook():
            live = _NotebookView(self)
        elif self.use_rich:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.file) if self.file is not None else Console()
            live = Live(self._renderable(), console=console, refresh_per_second=4)
        with live as self._live:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._consume, events)
                tasks.start_soon(self._tick)
                try:
                    yield self
                finally:
                    tasks.cancel_scope.cancel()
            self.refresh()
        self._live = None
        if not self.use_rich and not isinstance(live, _NotebookView):
            self._print(self.summary())

    async def _consume(self, events: AsyncIterator[GroupEvent]) -> None:
        async for event in events:
            if isinstance(event, JobEvent):
                self.job_event(event)
            else:
                self.retry_event(event)

    async def _tick(self) -> None:
        while True:
            await anyio.sleep(_REFRESH_SECONDS)
            if self._live is not None:
                self.refresh()


class _NotebookView:
    """The display in a Jupyter notebook: one output that is updated in place
    (``display_id``), which any frontend shows without widgets."""

    def __init__(self, display: ProgressDisplay) -> None:
        self._display = display
        self._handle: Any = None

    def __enter__(self) -> _NotebookView:
        from IPython.display import display

        self._handle = display(self._text(), raw=True, display_id=True)  # type: ignore[no-untyped-call]
        return self

    def __exit__(self, *exc: object) -> None:
        self.update()

    def update(self) -> None:
        if self._handle is not None:
            self._handle.update(self._text(), raw=True)

    def _text(self) -> dict[str, str]:
        lines = [self._display.summary()]
        if self._display.retrying:
            lines.append(f"↻ {_retry_line(self._display._latest_retry())}")
        lines += [f"✗ {failure}" for failure in self._display.failures[-_FAILURES_SHOWN:]]
        return {"text/plain": "\n".join(lines)}


class _NoDisplay:
    def point_done(self, point: Any) -> None:
        pass


@contextlib.asynccontextmanager
async def progress_display(
    group: _Group, *, total: int | None, enabled: bool | None, title: str = "sweep"
) -> AsyncIterator[ProgressDisplay | _NoDisplay]:
    """The display of ``group`` while the block runs: shown if ``enabled``, or when
    ``enabled`` is ``None`` and the output is interactive."""
    if not (interactive() if enabled is None else enabled):
        yield _NoDisplay()
        return
    async with ProgressDisplay(total, title=title).shown(group) as display:
        yield display


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _retry_line(event: RetryEvent) -> str:
    """What the display says of a call being retried."""
    what = event.job.name if event.job is not None else event.job_name or "a job"
    failing = _duration(max(0.0, event.time - event.since))
    next_in = _duration(max(0.0, (event.retry_at or event.time) - event.time))
    return (
        f"retrying {event.operation} of {what} (attempt {event.attempt}, failing for "
        f"{failing}, next in {next_in}): {_one_line(event.error)}"
    )


def _one_line(value: object) -> str:
    text = str(value).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 120 else line[:117] + "..."
