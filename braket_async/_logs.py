"""What ``job.logs()`` returns for a local job: awaitable (prints) and async-iterable.

Every follower reads the job's ``log.txt`` itself (``local/_follow.py``), so each sees
every line once, in order, whether it starts before, during or after the job, and in
whichever process.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Generator
from typing import TextIO

__all__ = ["LogStream"]


class LogStream:
    """What ``job.logs()`` returns: awaitable (prints) and async-iterable (yields lines).

    ``await job.logs(wait=True)`` prints every line to standard output, like the official
    SDK; ``async for line in job.logs(wait=True)`` yields them instead.
    """

    def __init__(
        self,
        batches: Callable[[], AsyncIterator[list[str]]],
        *,
        file: TextIO | None = None,
    ) -> None:
        self._batches = batches
        self._file = file

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
