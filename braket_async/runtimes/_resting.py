"""What a job prints, kept for one reader that takes everything that arrived at once.

A job that prints many short lines makes many small reads: a pipe or a socket delivers
each piece of output as it comes, often one or two lines, and handing each one on costs
a wake-up of the event loop (tens of microseconds), more than the lines themselves. A
:class:`RestingBuffer` instead leaves its transport alone for :data:`COALESCE_SECONDS`
after each piece: what arrives meanwhile waits in the kernel and comes in one read, and
the reader takes all pieces that arrived since its last read in one step. A line that
ends a quiet spell is read at once; the others wait at most that long. A big piece (a
long line, a reader that fell behind) is followed by no rest: more is waiting anyway.

Reading also pauses while more than :data:`BUFFER_LIMIT` bytes wait for the reader, as a
pipe does, so a job nobody reads blocks instead of filling memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final, Generic, TypeVar

__all__ = ["BIG_PIECE", "BUFFER_LIMIT", "COALESCE_SECONDS", "RestingBuffer"]

#: Bytes that may wait for the reader before the transport is paused.
BUFFER_LIMIT: Final = 1 << 20
#: How long the transport rests after each piece, so that output arriving meanwhile
#: comes in one read (and one wake-up of the reader).
COALESCE_SECONDS: Final = 0.001
#: Pieces at least this big come from a reader that is behind, not from a job printing
#: short lines: the transport reads on without a rest.
BIG_PIECE: Final = 1 << 16

T = TypeVar("T")


class RestingBuffer(Generic[T]):
    """Pieces of output (``T``) from one transport, taken in batches by one reader.

    Args:
        pause: Stop reading the transport (may be called while paused).
        resume: Read the transport again (may be called while reading).
        rest_seconds: How long the transport rests after each piece (0: until the
            loop's next turn).
    """

    def __init__(
        self,
        pause: Callable[[], None],
        resume: Callable[[], None],
        rest_seconds: float = COALESCE_SECONDS,
    ) -> None:
        self._rest_seconds = rest_seconds
        self._pause = pause
        self._resume_transport = resume
        self._ready: list[T] = []
        self._size = 0
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        # Why the transport is paused: the reader is behind, or it rests after a piece.
        self._full = False
        self._resting: asyncio.TimerHandle | None = None
        #: Set once the pieces waiting for the reader went over :data:`BUFFER_LIMIT`.
        self.filled = asyncio.Event()
        #: Set while the transport is not resting after a piece.
        self.rested = asyncio.Event()
        self.rested.set()
        #: Set once the transport ended or failed (pieces may still wait to be read).
        self.ended = asyncio.Event()

    def _arrived(self, pieces: list[T], size: int) -> None:
        """Keep ``pieces`` (``size`` bytes in all) for the reader; rest the transport."""
        self._ready += pieces
        self._size += size
        self._full = self._size > BUFFER_LIMIT
        if self._full:
            self.filled.set()
            self._pause()
        elif self._resting is None and not self._eof and size < BIG_PIECE:
            self.rested.clear()
            self._resting = asyncio.get_running_loop().call_later(self._rest_seconds, self._rested)
            self._pause()
        self._wake()

    def feed_eof(self) -> None:
        """The transport ended."""
        self._eof = True
        self.ended.set()
        self.stop_resting()
        self._wake()

    def set_exception(self, exc: BaseException, exc_cause: object = None) -> None:
        """The transport failed; :meth:`read` raises ``exc`` after the pieces before it."""
        self._error = exc
        self.ended.set()
        self.stop_resting()
        self._wake()

    def stop_resting(self) -> None:
        """Cancel a pending end of a rest (the transport is closing)."""
        if self._resting is not None:
            self._resting.cancel()
            self._resting = None
        self.rested.set()

    def pending_bytes(self) -> int:
        """Bytes that wait for the reader."""
        return self._size

    def is_eof(self) -> bool:
        return self._eof

    async def read(self) -> list[T] | None:
        """All pieces that arrived since the last read (waiting for one), or ``None``
        once the transport has ended and every piece was read."""
        while not self._ready:
            if self._error is not None:
                raise self._error
            if self._eof:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        ready, self._ready, self._size = self._ready, [], 0
        self._full = False
        self._resume()
        return ready

    def _rested(self) -> None:
        self._resting = None
        self.rested.set()
        self._resume()

    def _resume(self) -> None:
        if not self._full and self._resting is None and not self._eof:
            self._resume_transport()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
