"""A job's log: lines kept in order, read by any number of followers.

:class:`LogBuffer` is written by one producer (the task pumping the job's output) and
read by :class:`LogStream` objects, which are what ``job.logs()`` returns: awaiting one
prints the lines, iterating one yields them. Every follower sees every line once, in
order, whether it starts before, during or after the job.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import TextIO

__all__ = ["LogBuffer", "LogStream"]


class LogBuffer:
    """Append-only lines of one job, with a way to wait for more."""

    def __init__(self, lines: list[str] | None = None, *, closed: bool = False) -> None:
        self._lines: list[str] = list(lines or ())
        self._closed = closed
        self._changed = asyncio.Event() if not closed else None

    @property
    def closed(self) -> bool:
        """Whether no more lines will come."""
        return self._closed

    def __len__(self) -> int:
        return len(self._lines)

    def text(self) -> str:
        """All lines so far, each ended by a newline."""
        return "".join(line + "\n" for line in self._lines)

    def lines(self) -> list[str]:
        """A copy of the lines so far."""
        return list(self._lines)

    def extend(self, lines: list[str]) -> None:
        """Add lines (from the producer)."""
        if self._closed:
            raise RuntimeError("log buffer is closed")
        self._lines.extend(lines)
        self._wake()

    def close(self) -> None:
        """Say that no more lines will come (idempotent)."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event() if not self._closed else None

    async def follow(self, start: int = 0, *, wait: bool = True) -> AsyncIterator[list[str]]:
        """Yield batches of lines from index ``start`` on.

        With ``wait`` the iterator ends when the buffer is closed; without, it ends at
        the lines there are now.
        """
        position = start
        while True:
            if position < len(self._lines):
                batch = self._lines[position:]
                position += len(batch)
                yield batch
                continue
            if self._closed or not wait or self._changed is None:
                return
            await self._changed.wait()


class LogStream:
    """What ``job.logs()`` returns: awaitable (prints) and async-iterable (yields lines).

    ``await job.logs(wait=True)`` prints every line to standard output, like the official
    SDK; ``async for line in job.logs(wait=True)`` yields them instead.
    """

    def __init__(
        self,
        buffer: Callable[[], Awaitable[LogBuffer]],
        *,
        wait: bool,
        finished: Callable[[], Awaitable[object]] | None = None,
        file: TextIO | None = None,
    ) -> None:
        self._buffer = buffer
        self._wait = wait
        self._finished = finished
        self._file = file

    async def _batches(self) -> AsyncIterator[list[str]]:
        buffer = await self._buffer()
        async for batch in buffer.follow(wait=self._wait):
            yield batch
        if self._wait and self._finished is not None:
            # The last line is out; also wait until the job's record is complete, so
            # that state, results and log file are final when following ends.
            await self._finished()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        async for batch in self._batches():
            for line in batch:
                yield line

    async def print(self) -> None:
        """Print the lines to the stream's file (default: standard output)."""
        file = self._file or sys.stdout
        async for batch in self._batches():
            file.write("".join(line + "\n" for line in batch))
            file.flush()

    def __await__(self) -> Generator[object, None, None]:
        return self.print().__await__()
