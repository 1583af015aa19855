"""A job's log as every handle gives it: :class:`LogEvent` objects in a :class:`LogStream`.

``job.logs()`` of a local or a remote job returns a :class:`LogStream`: awaiting it
prints the lines (each instance in its colour on a terminal), iterating it yields
:class:`LogEvent` objects. Each use reads the log anew, from its first line.
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator, Callable, Generator
from typing import NamedTuple, TextIO

__all__ = ["LogEvent", "LogStream"]

_COLORS = (34, 35, 32, 36, 33)
_INSTANCE_NUMBER = re.compile(r"^algo-(\d+)$")


class LogEvent(NamedTuple):
    """One line of a job's log (immutable).

    A named tuple: a log of a hundred thousand lines makes as many events, and a tuple is
    the cheapest immutable object Python makes (a third of a frozen attrs class's cost),
    which keeps a reader ahead of a job that prints fast.

    Attributes:
        timestamp: When the line was logged, in seconds since the epoch.
        message: The line, without its line end.
        instance: The instance that printed it, e.g. ``"algo-1"`` (local jobs have one).
    """

    timestamp: float
    message: str
    instance: str

    def __str__(self) -> str:
        return self.message


class LogStream:
    """What ``job.logs()`` returns: awaitable (prints) and async-iterable (yields events).

    Args:
        events: Starts a new iteration of the job's events.
        file: Where printing goes (default: standard output at the time of printing).
        color: Colour lines by instance; default: when ``file`` is a terminal.
    """

    def __init__(
        self,
        events: Callable[[], AsyncIterator[LogEvent]],
        *,
        file: TextIO | None = None,
        color: bool | None = None,
    ) -> None:
        self._events = events
        self._file = file
        self._color = color

    def __aiter__(self) -> AsyncIterator[LogEvent]:
        return self._events()

    async def lines(self) -> list[str]:
        """Every message, in order (reads to the end of the stream)."""
        return [event.message async for event in self._events()]

    async def print(self) -> None:
        """Print every event's message to the stream's file, flushing as they come."""
        file = self._file or sys.stdout
        color = self._color
        if color is None:
            isatty = getattr(file, "isatty", None)
            color = bool(isatty()) if callable(isatty) else False
        colors: dict[str, int] = {}
        async for event in self._events():
            if color:
                code = colors.get(event.instance)
                if code is None:
                    code = colors[event.instance] = _color_for(event.instance, len(colors))
                file.write(f"\x1b[{code}m{event.message}\x1b[0m\n")
            else:
                file.write(event.message + "\n")
            file.flush()

    def __await__(self) -> Generator[object, None, None]:
        return self.print().__await__()


def _color_for(instance: str, seen: int) -> int:
    # algo-<i> keeps its colour from run to run; other names in order of appearance.
    match = _INSTANCE_NUMBER.match(instance)
    index = int(match.group(1)) - 1 if match else seen
    return _COLORS[index % len(_COLORS)]
